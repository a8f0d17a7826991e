"""The image unit's settings: what to build, for which platform, or what to deploy."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from config_reader import ConfigReader
from settings.common import (
    ARCHITECTURES,
    DIGEST_REFERENCE,
    ENV_NAME_PATTERN,
    IMAGE_TAG_PATTERN,
    path_is,
)


@dataclass(frozen=True)
class ImageSettings:
    """What to build (or which prebuilt image to deploy)."""

    context: Path
    """Absolute build context."""
    dockerfile: Path
    """Absolute Dockerfile path."""
    platform: str
    """Docker platform matching the service architecture, e.g. ``linux/amd64``."""
    tag: str | None
    """Tag pushed with the image (None: the image unit derives one from a hash of every build
    input); deployments still reference the digest."""
    build_args: Mapping[str, str]
    """``--build-arg`` values, sorted."""
    prebuilt: str | None
    """A digest-pinned reference to deploy instead of building."""
    build_on_preview: bool
    """Build during preview so a broken Dockerfile fails the pull request."""
    release_name: str
    """The Elixir release in the image: ``/app/bin/<release_name>`` (``mix release`` names the
    start script after the release)."""


RELEASE_NAME_PATTERN = r"[a-z][a-z0-9_]{0,63}"
"""What ``mix new``/``mix phx.new`` accept as an app name (and so as a default release name)."""
MIX_APP = re.compile(r"\bapp:\s*:([a-z][a-z0-9_]*)")
MIX_RELEASE_KEY = re.compile(r"(?<![\w:])([a-z][a-z0-9_]*):\s*\[")


def release_name_problem(mix_exs: str, name: str) -> str | None:
    """Why ``name`` is not a release ``mix release`` would build from this ``mix.exs`` (None: it
    is the app's name, the default release, or a key of ``releases: [...]``).

    A text check, not an Elixir evaluation: Mix cannot run here without the app's deps. It
    catches the mistake that matters, a new app in ``imageContext`` with the sample's name
    left in ``releaseName``; a mix.exs too unusual to read is not refused.
    """
    apps = MIX_APP.findall(mix_exs)
    if not apps or name in apps:
        return None
    if "releases:" in mix_exs and name in MIX_RELEASE_KEY.findall(mix_exs):
        return None
    return (
        f"not a release of {', '.join(f':{a}' for a in apps)} in imageContext's mix.exs: "
        f"set releaseName: {apps[0]} (the app name mix.exs declares)"
    )


def read_image(reader: ConfigReader, project_dir: Path, architecture: str) -> ImageSettings:
    context = project_dir / reader.string("imageContext")
    dockerfile = project_dir / reader.string("imageDockerfile")
    prebuilt = reader.optional_string(
        "prebuiltImage",
        pattern=DIGEST_REFERENCE,
        allowed="must be pinned by digest: <repository>@sha256:<64 hex digits>",
    )
    tag = reader.optional_string(
        "imageTag",
        pattern=IMAGE_TAG_PATTERN,
        allowed="a Docker tag: letters, digits, '_', '.', '-' (max 128), e.g. the commit SHA",
    )
    build_args = reader.string_map(
        "imageBuildArgs", name_pattern=ENV_NAME_PATTERN, name_allowed="a build-arg name"
    )
    build_on_preview = reader.boolean("buildOnPreview")
    release_name = reader.string(
        "releaseName",
        pattern=RELEASE_NAME_PATTERN,
        allowed="an Elixir app name: lowercase letters, digits and '_', starting with a letter "
        "(the app: in mix.exs, e.g. my_app)",
    )
    context_found = path_is(context, Path.is_dir)
    dockerfile_found = path_is(dockerfile, Path.is_file)
    if prebuilt is None:
        reader.require(context_found, "imageContext", str(context), "must be a directory")
        reader.require(dockerfile_found, "imageDockerfile", str(dockerfile), "file not found")
    mix_exs = context / "mix.exs"
    if prebuilt is None and path_is(mix_exs, Path.is_file):
        problem = release_name_problem(mix_exs.read_text(errors="replace"), release_name)
        if problem is not None:
            reader.problem("releaseName", release_name, problem)
    docker_platform = ARCHITECTURES.get(architecture, "linux/amd64")
    return ImageSettings(
        context=context,
        dockerfile=dockerfile,
        platform=docker_platform,
        tag=tag,
        build_args=MappingProxyType(build_args),
        prebuilt=prebuilt,
        build_on_preview=build_on_preview,
        release_name=release_name,
    )
