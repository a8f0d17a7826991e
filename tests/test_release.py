"""scripts/release.py: one build per commit, its digest handed on; every deploy recorded.

The build runs as CI runs it, against stand-in `aws` and `docker` executables on PATH that log
their arguments and answer like the real ones (`describe-images` JSON or ImageNotFoundException,
`buildx build --metadata-file`). The deploy notification is posted to a webhook on loopback.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from scripts import release
from tests.stand_ins import path_env, run_script, stand_in

ROOT = Path(__file__).resolve().parent.parent
REPOSITORY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/elixir-devops-release"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
DIGEST = "sha256:" + "d" * 64
OLD_DIGEST = "sha256:" + "e" * 64

FAKE = """import json, sys
args = sys.argv[1:]
with open({log!r}, "a") as log:
    log.write(json.dumps([{name!r}, *args]) + "\\n")
{body}
"""
FAKE_AWS = """
if args[:2] == ["ecr", "describe-images"]:
    answer = {answer!r}
    if answer is None:
        sys.stderr.write("An error occurred (ImageNotFoundException) when calling the "
                         "DescribeImages operation: The image with imageId ... does not exist\\n")
        sys.exit(254)
    print(json.dumps(answer))
"""
FAKE_DOCKER = """
if args[:2] == ["buildx", "build"]:
    metadata = args[args.index("--metadata-file") + 1]
    with open(metadata, "w") as out:
        json.dump({{"containerimage.digest": {digest!r}, "image.name": "x"}}, out)
"""


def describe_images_answer(digest: str) -> dict[str, Any]:
    answer = {
        "imageDetails": [
            {
                "registryId": "123456789012",
                "repositoryName": "elixir-devops-release",
                "imageDigest": digest,
                "imageTags": [f"release-{COMMIT}"],
            }
        ]
    }
    model = botocore.session.get_session().get_service_model("ecr")
    shape = model.operation_model("DescribeImages").output_shape
    report = ParamValidator().validate(answer, shape)
    assert not report.has_errors(), report.generate_report()
    return answer


def install_fakes(tmp_path: Path, existing: str | None) -> tuple[dict[str, str], Path]:
    bin_dir = tmp_path / "bin"
    log = tmp_path / "calls.log"
    answer = describe_images_answer(existing) if existing else None
    for name, body in (
        ("aws", FAKE_AWS.format(answer=answer)),
        ("docker", FAKE_DOCKER.format(digest=DIGEST)),
    ):
        stand_in(bin_dir, name, FAKE.format(log=str(log), name=name, body=body))
    env = path_env(
        bin_dir,
        GITHUB_OUTPUT=str(tmp_path / "output"),
        GITHUB_STEP_SUMMARY=str(tmp_path / "summary"),
    )
    return env, log


def run_build(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    metadata = str(tmp_path / "metadata.json")
    return run_script(
        "scripts.release", "build", "--repository", REPOSITORY, "--commit", COMMIT,
        "--metadata-file", metadata, env=env,
    )  # fmt: skip


def calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_a_new_commit_is_built_once_for_one_platform_and_its_digest_handed_on(
    tmp_path: Path,
) -> None:
    env, log = install_fakes(tmp_path, existing=None)
    done = run_build(tmp_path, env)
    assert done.returncode == 0, done.stdout + done.stderr
    describe, build = calls(log)
    assert describe[:3] == ["aws", "ecr", "describe-images"]
    assert describe[describe.index("--image-ids") + 1] == f"imageTag=release-{COMMIT}"
    assert build[:3] == ["docker", "buildx", "build"]
    assert build[build.index("--platform") + 1] == "linux/amd64"
    assert build[build.index("--tag") + 1] == f"{REPOSITORY}:release-{COMMIT}"
    assert {"--push", "--provenance=false", "--sbom=false"} <= set(build)
    assert build[-1] == "app"
    output = (tmp_path / "output").read_text()
    assert output == f"image={REPOSITORY}@{DIGEST}\n"
    assert f"`{REPOSITORY}@{DIGEST}`" in (tmp_path / "summary").read_text()


def test_a_rerun_for_the_same_commit_reuses_the_pushed_digest(tmp_path: Path) -> None:
    env, log = install_fakes(tmp_path, existing=OLD_DIGEST)
    done = run_build(tmp_path, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [c[0] for c in calls(log)] == ["aws"]  # docker never ran
    assert (tmp_path / "output").read_text() == f"image={REPOSITORY}@{OLD_DIGEST}\n"


def test_bad_arguments_are_refused_by_name() -> None:
    with pytest.raises(release.ReleaseError, match="--commit 'main'"):
        release.release_tag("main")
    with pytest.raises(release.ReleaseError, match="releaseRepositoryUrl"):
        release.image_reference("docker.io/library/app", DIGEST)
    with pytest.raises(release.ReleaseError, match="no image digest"):
        release.digest_from_metadata({"image.name": "x"})


# -- record ------------------------------------------------------------------------------------


class Webhook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    handler = type("Handler", (Webhook,), {"received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler.received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


IMAGE = f"{REPOSITORY}@{DIGEST}"


def environ(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
        "GITHUB_SHA": COMMIT,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/shop",
        "GITHUB_RUN_ID": "42",
        **extra,
    }


def test_a_deploy_is_summarised_annotated_and_notified(
    tmp_path: Path, webhook, capsys: pytest.CaptureFixture[str]
) -> None:
    url, received = webhook
    code = release.record(
        stack="prod",
        image=IMAGE,
        deployed=IMAGE,
        url="https://shop.example.com",
        environ=environ(tmp_path, DEPLOY_WEBHOOK_URL=url),
    )
    assert code == 0
    assert f"::notice title=Deployed prod::{IMAGE}" in capsys.readouterr().out
    summary = (tmp_path / "summary").read_text()
    assert f"| Image | `{IMAGE}` |" in summary
    assert "| URL | https://shop.example.com |" in summary
    (message,) = received
    assert message == {
        "text": f"Deployed prod: {IMAGE} · commit {COMMIT[:12]} · https://shop.example.com"
        " · https://github.com/acme/shop/actions/runs/42"
    }


def test_a_stack_running_another_image_fails_the_record(tmp_path: Path, webhook) -> None:
    url, received = webhook
    other = f"{REPOSITORY}@{OLD_DIGEST}"
    code = release.record(
        stack="staging",
        image=IMAGE,
        deployed=other,
        url="",
        environ=environ(tmp_path, DEPLOY_WEBHOOK_URL=url),
    )
    assert code == 1
    assert received == []


def test_an_unreachable_webhook_warns_but_the_deploy_stands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = release.record(
        stack="dev",
        image=IMAGE,
        deployed=IMAGE,
        url="",
        environ=environ(tmp_path, DEPLOY_WEBHOOK_URL="http://127.0.0.1:9/hook"),
    )
    assert code == 0
    assert "::warning title=Deploy notification::not delivered" in capsys.readouterr().out


# -- protect: prod's image outlives the release builds --------------------------------------

MANIFEST = json.dumps(
    {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}
)
MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
FAKE_ECR_TAGGING = """
if args[:2] == ["ecr", "batch-get-image"]:
    print(json.dumps({answer!r}))
if args[:2] == ["ecr", "put-image"]:
    if {already!r}:
        sys.stderr.write("An error occurred (ImageAlreadyExistsException) when calling the "
                         "PutImage operation: Image with digest ... and tag ... already exists\\n")
        sys.exit(254)
    print("{{}}")
"""


def batch_get_image_answer() -> dict[str, Any]:
    answer = {
        "images": [
            {
                "registryId": "123456789012",
                "repositoryName": "elixir-devops-release",
                "imageId": {"imageDigest": DIGEST, "imageTag": f"release-{COMMIT}"},
                "imageManifest": MANIFEST,
                "imageManifestMediaType": MEDIA_TYPE,
            }
        ],
        "failures": [],
    }
    model = botocore.session.get_session().get_service_model("ecr")
    report = ParamValidator().validate(answer, model.operation_model("BatchGetImage").output_shape)
    assert not report.has_errors(), report.generate_report()
    return answer


def run_protect(tmp_path: Path, already: bool) -> tuple[subprocess.CompletedProcess[str], Path]:
    bin_dir = tmp_path / "bin"
    log = tmp_path / "calls.log"
    body = FAKE_ECR_TAGGING.format(answer=batch_get_image_answer(), already=already)
    stand_in(bin_dir, "aws", FAKE.format(log=str(log), name="aws", body=body))
    done = run_script(
        "scripts.release", "protect", "--stack", "prod", "--image", f"{REPOSITORY}@{DIGEST}",
        env=path_env(bin_dir),
    )  # fmt: skip
    return done, log


def put_image_input(call: list[str]) -> dict[str, Any]:
    """The PutImage request the CLI arguments make, validated against botocore's ecr model."""
    options = {call[i][2:]: call[i + 1] for i in range(3, len(call) - 1, 2)}
    request = {
        "registryId": options["registry-id"],
        "repositoryName": options["repository-name"],
        "imageManifest": options["image-manifest"],
        "imageManifestMediaType": options["image-manifest-media-type"],
        "imageTag": options["image-tag"],
        "imageDigest": options["image-digest"],
    }
    model = botocore.session.get_session().get_service_model("ecr")
    report = ParamValidator().validate(request, model.operation_model("PutImage").input_shape)
    assert not report.has_errors(), report.generate_report()
    return request


def test_prods_image_gets_a_deployed_tag_on_the_same_manifest(tmp_path: Path) -> None:
    done, log = run_protect(tmp_path, already=False)
    assert done.returncode == 0, done.stdout + done.stderr
    fetch, put = calls(log)
    assert fetch[:3] == ["aws", "ecr", "batch-get-image"]
    assert fetch[fetch.index("--image-ids") + 1] == f"imageDigest={DIGEST}"
    request = put_image_input(put)
    assert request["imageTag"] == "deployed-prod-" + "d" * 20
    assert request["imageTag"].startswith(release.DEPLOYED_TAG_PREFIX)
    # The same manifest bytes and media type: the same digest, not a new image.
    assert (request["imageManifest"], request["imageManifestMediaType"]) == (MANIFEST, MEDIA_TYPE)
    assert request["imageDigest"] == DIGEST


def test_tagging_the_same_deployment_again_is_not_an_error(tmp_path: Path) -> None:
    done, _ = run_protect(tmp_path, already=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("stack", "image"),
    [("Prod!", f"{REPOSITORY}@{DIGEST}"), ("prod", f"{REPOSITORY}:latest")],
)
def test_protect_refuses_a_bad_stack_or_an_image_not_pinned_by_digest(
    stack: str, image: str
) -> None:
    assert release.main(["protect", "--stack", stack, "--image", image], environ={}) == 1
