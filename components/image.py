"""ContainerImage: the app's image, built from its Dockerfile and pushed, referenced by digest.

Shared by both targets; only the registry (ECR or the local ``registry:2``) differs.
Creates ``docker.Image`` (build for the service's platform, push, ``repoDigest``). For an
authenticated registry (ECR, where CI runners start with an empty layer cache) it also pushes
the build as a ``buildcache`` tag (``docker.Tag`` + ``docker.RegistryImage`` with the same
credentials) that the next build caches from; the local engine keeps its own layer cache.
Given a prebuilt image reference it creates nothing and passes that reference through.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import pulumi
import pulumi_docker as docker

# Build inputs whose changes matter to the image; anything else in the context is ignored.
CONTEXT_IGNORED_DIRS = frozenset({"_build", "deps", ".git", ".elixir_ls", "node_modules"})

BUILD_CACHE_TAG = "buildcache"
"""The one tag overwritten by every build: BuildKit inline cache for the next build."""


@dataclass(frozen=True)
class ImageBuild:
    """What makes the image: every input of the build, and so of the default tag.

    One value rather than four flat Args fields because the build and the tag hash
    (:func:`build_digest`) must see the same inputs: an input added here reaches both, so an
    image whose content changes never keeps its old tag (immutable tags refuse a new digest
    under an old tag). ``tests/test_image.py`` checks that every field changes the tag.
    """

    context: Path
    """Absolute build context."""
    dockerfile: Path
    """Absolute Dockerfile path."""
    platform: str
    """Docker platform matching the service's architecture, e.g. ``linux/amd64``."""
    build_args: Mapping[str, str] = field(default_factory=dict)
    """``--build-arg`` values."""


def build_digest(build: ImageBuild) -> str:
    """A short hash of everything that makes the image: same inputs, same tag.

    Covers the sources, the Dockerfile (content and path), the build args and the platform, so
    any change that rebuilds the image also changes the tag (immutable tags refuse a new digest
    under an old tag).
    """
    context, dockerfile = build.context, build.dockerfile
    digest = hashlib.sha256()
    digest.update(f"{build.platform}\0{dockerfile}\0".encode())
    for name, value in sorted(build.build_args.items()):
        digest.update(f"{name}={value}\0".encode())
    files = [dockerfile, *sorted(p for p in context.rglob("*") if p.is_file())]
    for path in files:
        relative = path.relative_to(context) if path.is_relative_to(context) else path
        if CONTEXT_IGNORED_DIRS.intersection(relative.parts):
            continue
        digest.update(str(relative).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def image_tag(tag: str | None, build: ImageBuild) -> str:
    """The given tag (CI sets the commit SHA), or ``src-`` + a hash of every build input:
    the same inputs give the same tag, any change a new one (immutable tags refuse a new
    digest under an old tag)."""
    if tag:
        return tag
    return "src-" + build_digest(build)


def is_pushed_reference(reference: str) -> bool:
    """``<repository>@sha256:<digest>``, what a registry serves; not a bare local image id."""
    repository, _, digest = reference.partition("@sha256:")
    return bool(repository) and len(digest) == 64


def pushed_reference(reference: str) -> str:
    """The digest reference ``up`` pushed, or unknown during a preview.

    During a preview pulumi-docker builds but does not push, and its ``repoDigest`` is the local
    image id (``sha256:…``): shown in a task definition it would claim a deployment of an image
    no registry holds, so a preview shows the reference as unknown (computed at ``up``).
    """
    if is_pushed_reference(reference):
        return reference
    if pulumi.runtime.is_dry_run():
        return cast("str", pulumi.output.UNKNOWN)
    raise ValueError(f"the image build returned {reference!r}, not a pushed digest reference")


def docker_build_args(build: ImageBuild) -> dict[str, str]:
    """The build's args plus the inline-cache flag that makes ``cache_from`` work."""
    return {**build.build_args, "BUILDKIT_INLINE_CACHE": "1"}


@dataclass(frozen=True)
class ContainerImageArgs:
    build: ImageBuild
    """What to build, for which platform."""
    tag: str | None
    """Tag pushed with the image (CI sets the commit SHA); None - ``src-`` + a hash of the
    build. Deployments reference the digest either way."""
    build_on_preview: bool
    """Build during ``pulumi preview`` too, so a broken Dockerfile fails the pull request."""
    repository_url: pulumi.Input[str]
    """Registry repository to push to, without tag (``host[:port]/name``)."""
    registry: docker.RegistryArgs | None = None
    """Push credentials (server, username, password); None for a registry without auth."""
    prebuilt: str | None = None
    """Deploy this digest-pinned reference instead of building (None - build)."""


class ContainerImage(pulumi.ComponentResource):
    image_ref: pulumi.Output[str]
    """``<repository>@sha256:<digest>``: what the service runs, so identical builds never churn."""
    image_name: pulumi.Output[str]
    """``<repository>:<tag>``: the human-readable tag that was pushed."""

    def __init__(
        self, name: str, args: ContainerImageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("elixir-devops:index:ContainerImage", name, None, opts)
        build = args.build
        if args.prebuilt is not None:
            self.image_ref = pulumi.Output.from_input(args.prebuilt)
            self.image_name = self.image_ref
        else:
            repository = pulumi.Output.from_input(args.repository_url)
            cache_ref = repository.apply(lambda url: f"{url}:{BUILD_CACHE_TAG}")
            cache_from = docker.CacheFromArgs(images=[cache_ref]) if args.registry else None
            image = docker.Image(
                f"{name}-image",
                image_name=repository.apply(lambda url: f"{url}:{image_tag(args.tag, build)}"),
                build=docker.DockerBuildArgs(
                    context=str(build.context),
                    dockerfile=str(build.dockerfile),
                    platform=build.platform,
                    args=docker_build_args(build),
                    cache_from=cache_from,
                    builder_version=docker.BuilderVersion.BUILDER_BUILD_KIT,
                ),
                build_on_preview=args.build_on_preview,
                registry=args.registry,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.image_ref = image.repo_digest.apply(pushed_reference)
            if args.registry is not None:
                self._push_build_cache(name, self.image_ref, cache_ref, args.registry)
            self.image_name = image.image_name
        self.register_outputs({"image_ref": self.image_ref, "image_name": self.image_name})

    def _push_build_cache(
        self,
        name: str,
        pushed: pulumi.Output[str],
        cache_ref: pulumi.Output[str],
        registry: docker.RegistryArgs,
    ) -> None:
        # RegistryImage reads neither the Image's credentials nor ~/.docker/config.json: without
        # its own auth_config the provider fails with "Unable to get authConfig for registry".
        cache_tag = docker.Tag(
            f"{name}-cache-tag",
            source_image=pushed,
            target_image=cache_ref,
            opts=pulumi.ResourceOptions(parent=self),
        )
        docker.RegistryImage(
            f"{name}-cache-push",
            name=cache_tag.target_image,
            keep_remotely=True,
            triggers={"digest": pushed},
            auth_config=docker.RegistryImageAuthConfigArgs(
                address=cast("pulumi.Input[str]", registry.server),
                username=registry.username,
                password=registry.password,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
