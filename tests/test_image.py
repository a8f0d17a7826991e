"""ContainerImage: build for the platform, push, cache, prebuilt references."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_docker as docker

import settings
from components.image import BUILD_CACHE_TAG, ContainerImage, ContainerImageArgs, image_tag
from settings import ImageSettings
from tests.harness import run_components


def _image_settings(tmp_path: Path, **overrides: object) -> ImageSettings:
    values: dict[str, object] = {
        "context": tmp_path,
        "dockerfile": tmp_path / "Dockerfile",
        "platform": "linux/arm64",
        "tag": "abc123",
        "build_args": {"MIX_ENV": "prod"},
        "prebuilt": None,
        "build_on_preview": True,
    }
    values.update(overrides)
    return ImageSettings(**values)  # type: ignore[arg-type]


def test_image_builds_for_the_service_platform_and_caches_from_the_registry(
    tmp_path: Path,
) -> None:
    repository = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app"
    holder: dict[str, ContainerImage] = {}

    credentials = docker.RegistryArgs(
        server="123456789012.dkr.ecr.eu-west-1.amazonaws.com", username="AWS", password="token"
    )

    def build() -> list[pulumi.Output[object]]:
        holder["i"] = ContainerImage(
            "img",
            ContainerImageArgs(
                settings=_image_settings(tmp_path),
                repository_url=repository,
                registry=credentials,
            ),
        )
        return [holder["i"].image_ref]

    run = run_components(build)
    image = run.one("docker:index/image:Image").inputs
    assert image["registry"] == {
        "server": "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
        "username": "AWS",
        "password": "token",
    }
    assert image["imageName"] == f"{repository}:abc123"
    assert image["build"]["platform"] == "linux/arm64"
    assert image["build"]["args"] == {"MIX_ENV": "prod", "BUILDKIT_INLINE_CACHE": "1"}
    assert image["build"]["cacheFrom"]["images"] == [f"{repository}:{BUILD_CACHE_TAG}"]
    assert image["buildOnPreview"] is True
    push = run.one("docker:index/registryImage:RegistryImage").inputs
    assert push["name"] == f"{repository}:{BUILD_CACHE_TAG}"
    digest = run.one("docker:index/image:Image").outputs["repoDigest"]
    assert push["triggers"] == {"digest": digest}
    # The provider looks for the push credentials nowhere else.
    assert push["authConfig"] == {
        "address": "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
        "username": "AWS",
        "password": "token",
    }


def test_a_registry_without_credentials_gets_no_cache_push(tmp_path: Path) -> None:
    """The local engine keeps its own layer cache; a cache push would need auth it lacks."""
    repository = "localhost:5000/app"
    run = run_components(
        lambda: [
            ContainerImage(
                "local-img",
                ContainerImageArgs(settings=_image_settings(tmp_path), repository_url=repository),
            ).image_ref
        ]
    )
    image = run.one("docker:index/image:Image").inputs
    assert image["imageName"] == f"{repository}:abc123"
    assert "cacheFrom" not in image["build"]
    assert not run.of_type("docker:index/registryImage:RegistryImage")
    assert not run.of_type("docker:index/tag:Tag")


def test_prebuilt_image_builds_nothing(tmp_path: Path) -> None:
    reference = "ghcr.io/acme/app@sha256:" + "c" * 64
    settings = _image_settings(tmp_path, prebuilt=reference)
    outputs: dict[str, str] = {}

    def build() -> list[pulumi.Output[object]]:
        image = ContainerImage("pre", ContainerImageArgs(settings=settings, repository_url="x"))
        return [image.image_ref.apply(lambda ref: outputs.setdefault("ref", ref))]

    run = run_components(build)
    assert run.custom() == []
    assert outputs["ref"] == reference


def test_image_tag_defaults_to_a_hash_of_the_build_inputs(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "app.ex").write_text("defmodule A do end\n")
    (tmp_path / "_build").mkdir()
    values = {"imageContext": str(tmp_path), "imageDockerfile": str(tmp_path / "Dockerfile")}
    first = image_tag(settings.load("x", values).image)
    (tmp_path / "_build" / "ignored.beam").write_text("build output")
    assert image_tag(settings.load("x", values).image) == first
    (tmp_path / "lib" / "app.ex").write_text("defmodule B do end\n")
    second = image_tag(settings.load("x", values).image)
    assert first.startswith("src-") and second.startswith("src-") and first != second
    assert image_tag(settings.load("x", {**values, "imageTag": "abc123"}).image) == "abc123"
    # Anything that rebuilds the image changes the tag too (immutable tags refuse a new digest).
    with_args = settings.load("x", {**values, "imageBuildArgs": {"MIX_ENV": "staging"}})
    arm = settings.load("x", {**values, "architecture": "arm64"})
    x86 = settings.load("x", {**values, "architecture": "x86_64"})
    assert len({image_tag(s.image) for s in (with_args, arm, x86)}) == 3
    assert second != image_tag(with_args.image)
