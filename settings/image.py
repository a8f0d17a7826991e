"""The image unit's settings: what to build, for which platform, or what to deploy."""

from __future__ import annotations

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
    context_found = path_is(context, Path.is_dir)
    dockerfile_found = path_is(dockerfile, Path.is_file)
    if prebuilt is None:
        reader.require(context_found, "imageContext", str(context), "must be a directory")
        reader.require(dockerfile_found, "imageDockerfile", str(dockerfile), "file not found")
    docker_platform = ARCHITECTURES.get(architecture, "linux/amd64")
    return ImageSettings(
        context=context,
        dockerfile=dockerfile,
        platform=docker_platform,
        tag=tag,
        build_args=MappingProxyType(build_args),
        prebuilt=prebuilt,
        build_on_preview=build_on_preview,
    )
