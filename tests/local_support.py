"""Helpers for the local-target tests: the image source to build, and recorded-input lookups."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.harness import PROJECT_DIR, Recorded

APP_DOCKERFILE = PROJECT_DIR / "app" / "Dockerfile"


def image_overrides(tmp_dir: Path) -> dict[str, str]:
    """Config overrides for the image source: none once ``app/Dockerfile`` is in the tree.

    Until the app branch is merged, settings (rightly) refuses a missing Dockerfile, so the
    tests point the build at a stub one; the graph under test is the same either way.
    """
    if APP_DOCKERFILE.is_file():
        return {}
    context = tmp_dir / "app"
    context.mkdir(parents=True, exist_ok=True)
    (context / "Dockerfile").write_text("FROM debian:bookworm-slim\n")
    return {"imageContext": str(context), "imageDockerfile": str(context / "Dockerfile")}


def env_map(container: Recorded) -> dict[str, str]:
    """A container's ``envs`` (``NAME=value`` list) as a mapping."""
    return dict(entry.split("=", 1) for entry in container.inputs.get("envs", []))


def upload(container: Recorded, path: str) -> str:
    """The content of the file ``path`` uploaded into ``container``."""
    found = [u["content"] for u in container.inputs.get("uploads", []) if u["file"] == path]
    assert len(found) == 1, f"{container.urn}: expected one upload to {path}, got {len(found)}"
    return found[0]


def named(resources: list[Recorded], suffix: str) -> Recorded:
    found = [r for r in resources if r.name.endswith(suffix)]
    assert len(found) == 1, f"expected one resource named *{suffix}, got {[r.urn for r in found]}"
    return found[0]


def as_int(value: Any) -> int:
    """Mock inputs carry numbers as floats."""
    return int(value)
