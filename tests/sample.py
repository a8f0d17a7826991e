"""Is ``app/`` the sample app? The one place the sample's contract tests learn that, and its
release name.

The sample is a replaceable part: the infrastructure tests never depend on it, while the tests
that build and run the sample's release (its contract) mark their module with
``pytestmark = sample_only()``:

- ``app/`` is the sample (``app/SAMPLE.md`` is there and ``app/mix.exs`` declares
  :data:`RELEASE_NAME`): they run.
- ``app/`` is the user's own app: they are skipped, and the skip reason says why (``-ra`` in
  pytest's options prints it in the summary).
- ``ELIXIR_DEVOPS_REQUIRE_SAMPLE=1`` (``.ci/run`` always; the GitHub test workflow while
  ``app/SAMPLE.md`` is there): a missing or half-replaced sample is an error at collection,
  never a silent skip.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from settings.common import project_config

APP_DIR = Path(__file__).resolve().parent.parent / "app"
MARKER = APP_DIR / "SAMPLE.md"
REQUIRE_ENV = "ELIXIR_DEVOPS_REQUIRE_SAMPLE"

RELEASE_NAME: str = project_config()[1]["releaseName"]["default"]
"""The sample's release (and OTP app) name: the ``releaseName`` default in ``Pulumi.yaml``."""
MODULE: str = "".join(part.capitalize() for part in RELEASE_NAME.split("_"))
"""The sample's top-level module (``Macro.camelize`` of the app name: ElixirApp)."""


def why_not_sample(app_dir: Path = APP_DIR) -> str | None:
    """None when ``app_dir`` holds the sample; otherwise what is missing."""
    marker = app_dir / MARKER.name
    if not marker.is_file():
        return f"{marker} is absent"
    mix_exs = app_dir / "mix.exs"
    text = mix_exs.read_text(errors="replace") if mix_exs.is_file() else ""
    if not re.search(rf"\bapp:\s*:{RELEASE_NAME}\b", text):
        return f"{mix_exs} does not declare app: :{RELEASE_NAME} ({marker.name} is left over)"
    return None


def sample_only(app_dir: Path = APP_DIR) -> pytest.MarkDecorator:
    """The mark of a module of the sample's contract tests (see the module docstring)."""
    reason = why_not_sample(app_dir)
    if reason is None:
        return pytest.mark.sample
    if os.environ.get(REQUIRE_ENV) == "1":
        raise RuntimeError(f"{REQUIRE_ENV}=1 but app/ is not the sample app: {reason}")
    return pytest.mark.skip(
        reason=f"tests of the sample app only, and app/ is your own app ({reason}); "
        "your app is tested by its own `mix test` (docs/your-app.md)"
    )
