"""ContainerImage: build for the platform, push, cache, prebuilt references."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pulumi
import pulumi_docker as docker

import settings
from components.image import (
    BUILD_CACHE_TAG,
    ContainerImage,
    ContainerImageArgs,
    ImageBuild,
    image_tag,
)
from program import image_args
from tests.harness import run_components


def _image_args(tmp_path: Path, repository_url: str, **overrides: Any) -> ContainerImageArgs:
    build = ImageBuild(
        context=tmp_path,
        dockerfile=tmp_path / "Dockerfile",
        platform="linux/arm64",
        build_args={"MIX_ENV": "prod"},
    )
    values: dict[str, Any] = {
        "build": build,
        "tag": "abc123",
        "build_on_preview": True,
        "repository_url": repository_url,
    }
    return ContainerImageArgs(**{**values, **overrides})


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
            _image_args(tmp_path, repository, registry=credentials),
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
                _image_args(tmp_path, repository),
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
    args = _image_args(tmp_path, "x", prebuilt=reference)
    outputs: dict[str, str] = {}

    def build() -> list[pulumi.Output[object]]:
        image = ContainerImage("pre", args)
        return [image.image_ref.apply(lambda ref: outputs.setdefault("ref", ref))]

    run = run_components(build)
    assert run.custom() == []
    assert outputs["ref"] == reference


def _tag(values: dict[str, Any]) -> str:
    """The tag a stack with these config values pushes (through the composition's mapping)."""
    args = image_args(settings.load("x", values).image, "registry.example/app")
    return image_tag(args.tag, args.build)


def test_image_tag_defaults_to_a_hash_of_the_build_inputs(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "app.ex").write_text("defmodule A do end\n")
    (tmp_path / "_build").mkdir()
    values = {"imageContext": str(tmp_path), "imageDockerfile": str(tmp_path / "Dockerfile")}
    first = _tag(values)
    (tmp_path / "_build" / "ignored.beam").write_text("build output")
    assert _tag(values) == first
    (tmp_path / "lib" / "app.ex").write_text("defmodule B do end\n")
    second = _tag(values)
    assert first.startswith("src-") and second.startswith("src-") and first != second
    assert _tag({**values, "imageTag": "abc123"}) == "abc123"
    # Anything that rebuilds the image changes the tag too (immutable tags refuse a new digest).
    with_args = _tag({**values, "imageBuildArgs": {"MIX_ENV": "staging"}})
    arm = _tag({**values, "architecture": "arm64"})
    x86 = _tag({**values, "architecture": "x86_64"})
    assert len({with_args, arm, x86}) == 3
    assert second != with_args


def test_every_input_of_the_build_changes_the_default_tag(tmp_path: Path) -> None:
    """ImageBuild is what the tag hashes: a field added to it without reaching the hash (or
    without a case here) fails this test."""
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Dockerfile").write_text(f"FROM scratch\nLABEL source={name}\n")
    build = ImageBuild(
        context=tmp_path / "one",
        dockerfile=tmp_path / "one" / "Dockerfile",
        platform="linux/amd64",
        build_args={"MIX_ENV": "prod"},
    )
    changed = {
        "context": tmp_path / "two",
        "dockerfile": tmp_path / "two" / "Dockerfile",
        "platform": "linux/arm64",
        "build_args": {"MIX_ENV": "staging"},
    }
    assert set(changed) == {f.name for f in dataclasses.fields(ImageBuild)}
    for name, value in changed.items():
        other = dataclasses.replace(build, **{name: value})
        assert image_tag(None, other) != image_tag(None, build), name
