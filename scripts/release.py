#!/usr/bin/env python3
"""Build once, promote the digest: the deploy workflow's build job and its deploy records.

Usage (.github/workflows/deploy.yml; standard library only, so it runs before any venv):

    python3 -m scripts.release build --repository <url> --commit <sha> [--platform linux/amd64]
    python3 -m scripts.release record --stack prod --image <ref> --deployed <stack output image>
                                      [--url <stack output url>]
    python3 -m scripts.release protect --stack prod --image <ref>

``build`` pushes the image of ``app/`` once per commit to the release registry as
``release-<sha>`` and prints ``image=<repository>@sha256:<digest>`` to $GITHUB_OUTPUT: every
deploy job deploys exactly that reference (``prebuiltImage``). A rerun for the same commit (a
failed promotion retried with workflow_dispatch) finds the tag and reuses its digest instead of
building a second, different image under an immutable tag.

``protect`` (with the release role) tags the image a stack now runs ``deployed-<stack>-<digest>``:
the release registry's lifecycle never expires it with the old release builds.

``record`` checks that the stack now runs that reference (its ``image`` output), writes it to
the step summary, annotates the run and, when the DEPLOY_WEBHOOK_URL secret is set, posts the
deployment (a Slack-compatible ``{"text": ...}``; Teams and Discord workflows accept it too).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

TAG_PREFIX = "release-"
"""Same as bootstrap/release_registry.py's RELEASE_TAG_PREFIX (a test keeps them equal)."""
DEPLOYED_TAG_PREFIX = "deployed-"
"""Same as bootstrap/release_registry.py's DEPLOYED_TAG_PREFIX (a test keeps them equal)."""
DEFAULT_PLATFORM = "linux/amd64"
REPOSITORY_URL = r"\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9._/-]+"
DIGEST = r"sha256:[0-9a-f]{64}"
COMMIT = r"[0-9a-f]{40}"


class ReleaseError(ValueError):
    """A bad argument or a failed command, named."""


def release_tag(commit: str) -> str:
    if not re.fullmatch(COMMIT, commit):
        raise ReleaseError(f"--commit {commit!r}: must be a full 40-character commit SHA")
    return f"{TAG_PREFIX}{commit}"


def image_reference(repository: str, digest: str) -> str:
    if not re.fullmatch(REPOSITORY_URL, repository):
        raise ReleaseError(
            f"--repository {repository!r}: must be the release registry's URL, "
            "<account>.dkr.ecr.<region>.amazonaws.com/<name> "
            "(bootstrap output releaseRepositoryUrl)"
        )
    if not re.fullmatch(DIGEST, digest):
        raise ReleaseError(f"not an image digest: {digest!r}")
    return f"{repository}@{digest}"


def registry_and_name(repository: str) -> tuple[str, str]:
    """(account id, repository name) of ``<account>.dkr.ecr.<region>.amazonaws.com/<name>``."""
    return repository.split(".", 1)[0], repository.split("/", 1)[1]


def digest_from_metadata(metadata: Mapping[str, Any]) -> str:
    """The pushed manifest's digest from `docker buildx build --metadata-file`."""
    digest = metadata.get("containerimage.digest")
    if not isinstance(digest, str) or not re.fullmatch(DIGEST, digest):
        raise ReleaseError(f"the build's metadata has no image digest: {sorted(metadata)}")
    return digest


def existing_digest(described: Mapping[str, Any]) -> str | None:
    """The digest of `aws ecr describe-images` output for one tag, None when absent."""
    details = described.get("imageDetails") or []
    return str(details[0]["imageDigest"]) if details else None


def _run(command: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    print("+ " + " ".join(command), flush=True)
    return subprocess.run(command, text=True, check=False, **kwargs)


def build(repository: str, commit: str, platform: str, context: Path, metadata: Path) -> str:
    """The release reference of ``commit``: reused if already pushed, else built and pushed."""
    tag = release_tag(commit)
    registry, name = registry_and_name(repository)
    described = _run(
        [
            "aws",
            "ecr",
            "describe-images",
            "--registry-id",
            registry,
            "--repository-name",
            name,
            "--image-ids",
            f"imageTag={tag}",
            "--output",
            "json",
        ],
        capture_output=True,
        timeout=120,
    )
    if described.returncode == 0:
        digest = existing_digest(json.loads(described.stdout or "{}"))
        if digest:
            print(f"{repository}:{tag} exists: reusing {digest}, not building again")
            return image_reference(repository, digest)
    elif "ImageNotFoundException" not in described.stderr:
        raise ReleaseError(f"aws ecr describe-images failed: {described.stderr.strip()}")
    # One platform, no provenance/SBOM attestations: a single image manifest whose digest is
    # what ECR scans and what the task definitions pin.
    built = _run(
        [
            "docker",
            "buildx",
            "build",
            "--platform",
            platform,
            "--provenance=false",
            "--sbom=false",
            "--tag",
            f"{repository}:{tag}",
            "--metadata-file",
            str(metadata),
            "--push",
            str(context),
        ],
        timeout=3600,
    )
    if built.returncode != 0:
        raise ReleaseError(f"docker buildx build failed (exit {built.returncode})")
    return image_reference(
        repository, digest_from_metadata(json.loads(metadata.read_text(encoding="utf-8")))
    )


def deployed_tag(stack: str, image: str) -> str:
    """The tag that keeps ``image`` while ``stack`` may still roll back to it."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,40}", stack):
        raise ReleaseError(f"--stack {stack!r}: a stack name (lowercase letters, digits, '-')")
    digest = image.rsplit("@", 1)[-1]
    return f"{DEPLOYED_TAG_PREFIX}{stack}-{digest.removeprefix('sha256:')[:20]}"


def protect(image: str, stack: str) -> str:
    """Adds ``deployed-<stack>-<digest>`` to the release image ``stack`` now runs, so the
    release registry's lifecycle keeps it (its deployed-* rule outranks the release-* one) long
    after main has moved more than releaseKeepCount builds on. Tags are immutable: the same
    deployment tagged twice is the same tag on the same image, and that is fine."""
    repository, _, digest = image.partition("@")
    image_reference(repository, digest)  # validates both halves
    tag = deployed_tag(stack, image)
    registry, name = registry_and_name(repository)
    fetched = _run(
        [
            "aws", "ecr", "batch-get-image",
            "--registry-id", registry,
            "--repository-name", name,
            "--image-ids", f"imageDigest={digest}",
            "--output", "json",
        ],
        capture_output=True,
        timeout=120,
    )  # fmt: skip
    if fetched.returncode != 0:
        raise ReleaseError(f"aws ecr batch-get-image failed: {fetched.stderr.strip()}")
    images = json.loads(fetched.stdout or "{}").get("images") or []
    if not images:
        raise ReleaseError(f"{image} is not in the release registry (expired already?)")
    manifest = images[0]
    put = _run(
        [
            "aws", "ecr", "put-image",
            "--registry-id", registry,
            "--repository-name", name,
            "--image-tag", tag,
            "--image-manifest", str(manifest["imageManifest"]),
            "--image-manifest-media-type", str(manifest.get("imageManifestMediaType") or ""),
            "--image-digest", digest,
            "--output", "json",
        ],
        capture_output=True,
        timeout=120,
    )  # fmt: skip
    if put.returncode != 0 and "ImageAlreadyExistsException" not in put.stderr:
        raise ReleaseError(f"aws ecr put-image failed: {put.stderr.strip()}")
    print(f"{repository}:{tag} keeps {digest} while {stack} may roll back to it")
    return tag


def deployment_text(stack: str, image: str, url: str, run_url: str, commit: str) -> str:
    parts = [f"Deployed {stack}: {image}"]
    if commit:
        parts.append(f"commit {commit[:12]}")
    if url:
        parts.append(url)
    if run_url:
        parts.append(run_url)
    return " · ".join(parts)


def record(
    *,
    stack: str,
    image: str,
    deployed: str,
    url: str,
    environ: Mapping[str, str],
) -> int:
    """Summary, annotation and notification of one deployment; 1 if the stack runs another image."""
    run_url = ""
    if environ.get("GITHUB_RUN_ID"):
        run_url = (
            f"{environ.get('GITHUB_SERVER_URL', 'https://github.com')}/"
            f"{environ.get('GITHUB_REPOSITORY', '')}/actions/runs/{environ['GITHUB_RUN_ID']}"
        )
    commit = environ.get("GITHUB_SHA", "")
    if deployed != image:
        print(
            f"::error title=Promotion mismatch::{stack} exports image {deployed!r}, "
            f"not the build's {image!r}"
        )
        return 1
    summary = environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with Path(summary).open("a", encoding="utf-8") as out:
            out.write(
                f"### Deployed `{stack}`\n\n| | |\n|---|---|\n| Image | `{image}` |\n"
                f"| Commit | `{commit}` |\n| URL | {url or '-'} |\n\n"
            )
    print(f"::notice title=Deployed {stack}::{image}")
    webhook = environ.get("DEPLOY_WEBHOOK_URL", "")
    if webhook:
        text = deployment_text(stack, image, url, run_url, commit)
        request = urllib.request.Request(
            webhook,
            data=json.dumps({"text": text}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                response.read()
        except OSError as error:
            # The deployment happened; a chat outage must not fail it (the summary has it).
            print(f"::warning title=Deploy notification::not delivered: {error}")
    return 0


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(prog="python3 -m scripts.release", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build_args = commands.add_parser("build")
    build_args.add_argument("--repository", required=True)
    build_args.add_argument("--commit", required=True)
    build_args.add_argument("--platform", default=DEFAULT_PLATFORM)
    build_args.add_argument("--context", type=Path, default=Path("app"))
    build_args.add_argument("--metadata-file", type=Path, default=Path("build-metadata.json"))
    record_args = commands.add_parser("record")
    record_args.add_argument("--stack", required=True)
    record_args.add_argument("--image", required=True)
    record_args.add_argument("--deployed", required=True, help="the stack's `image` output")
    record_args.add_argument("--url", default="")
    protect_args = commands.add_parser("protect")
    protect_args.add_argument("--stack", required=True)
    protect_args.add_argument("--image", required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "protect":
            protect(args.image, args.stack)
            return 0
        if args.command == "build":
            reference = build(
                args.repository, args.commit, args.platform, args.context, args.metadata_file
            )
            output = environ.get("GITHUB_OUTPUT")
            if output:
                with Path(output).open("a", encoding="utf-8") as out:
                    out.write(f"image={reference}\n")
            summary = environ.get("GITHUB_STEP_SUMMARY")
            if summary:
                with Path(summary).open("a", encoding="utf-8") as out:
                    out.write(f"### Release image\n\n`{reference}`\n\n")
            print(reference)
            return 0
        return record(
            stack=args.stack,
            image=args.image,
            deployed=args.deployed,
            url=args.url,
            environ=environ,
        )
    except (ReleaseError, subprocess.TimeoutExpired) as error:
        print(f"::error title=Release::{error}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
