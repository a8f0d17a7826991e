"""tests/sample.py: the sample's contract tests run on the sample, skip (saying why) on your own
app, and can never skip silently where the sample is required."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.sample import APP_DIR, MARKER, RELEASE_NAME, REQUIRE_ENV, sample_only, why_not_sample

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "phoenix_app"


def sample_copy(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    app.mkdir(parents=True)
    shutil.copy(APP_DIR / "mix.exs", app / "mix.exs")
    shutil.copy(MARKER, app / MARKER.name)
    return app


def test_the_sample_is_recognised(tmp_path: Path) -> None:
    assert why_not_sample(sample_copy(tmp_path)) is None
    assert sample_only(sample_copy(tmp_path / "again")).name == "sample"


def test_a_stock_phoenix_app_is_not_the_sample_and_the_skip_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    assert why_not_sample(FIXTURE) == f"{FIXTURE / MARKER.name} is absent"
    mark = sample_only(FIXTURE)
    assert mark.name == "skip"
    assert "tests of the sample app only" in mark.kwargs["reason"]
    assert "SAMPLE.md is absent" in mark.kwargs["reason"]


def test_a_marker_left_over_next_to_another_app_does_not_count(tmp_path: Path) -> None:
    app = tmp_path / "app"
    shutil.copytree(FIXTURE, app)
    shutil.copy(MARKER, app / MARKER.name)
    assert why_not_sample(app) == (
        f"{app / 'mix.exs'} does not declare app: :{RELEASE_NAME} (SAMPLE.md is left over)"
    )


def test_where_the_sample_is_required_a_missing_one_is_an_error_not_a_skip(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(RuntimeError, match="is not the sample app"):
        sample_only(FIXTURE)
