"""The scan gate refuses what ECR's scan rates too severe, and an override leaves a trace.

The fixtures are `aws ecr describe-image-scan-findings` answers, validated against the output
shape of botocore's ECR model (a fixture with a misspelt key or a wrong type fails here, not in
the first real promotion). The `--image` path runs the script as CI does, against a stand-in
`aws` executable on PATH that records its arguments and answers with a fixture.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from scripts import scan_gate

ROOT = Path(__file__).resolve().parent.parent
DIGEST = "sha256:" + "ab" * 32
IMAGE = f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/elixir-devops-release@{DIGEST}"


def findings(status: str = "COMPLETE", counts: dict[str, int] | None = None, **extra: Any):
    scan: dict[str, Any] = {
        "imageScanCompletedAt": "2026-12-02T06:00:00Z",
        "vulnerabilitySourceUpdatedAt": "2026-12-01T00:00:00Z",
    }
    if counts is not None:
        scan["findingSeverityCounts"] = counts
    scan.update(extra)
    return {
        "registryId": "123456789012",
        "repositoryName": "elixir-devops-release",
        "imageId": {"imageDigest": DIGEST, "imageTag": "release-" + "a" * 40},
        "imageScanStatus": {"status": status, "description": "The scan was completed."},
        "imageScanFindings": scan,
    }


def botocore_problems(document: dict[str, Any]) -> str:
    model = botocore.session.get_session().get_service_model("ecr")
    shape = model.operation_model("DescribeImageScanFindings").output_shape
    report = ParamValidator().validate(document, shape)
    return report.generate_report() if report.has_errors() else ""


FIXTURES = {
    "clean": findings(counts={"LOW": 3, "MEDIUM": 1}),
    "critical": findings(counts={"CRITICAL": 2, "HIGH": 5}),
    "high only": findings(counts={"HIGH": 1}),
    "basic findings without counts": findings(
        findings=[
            {"name": "CVE-2026-0001", "severity": "CRITICAL", "uri": "https://example.com/1"},
            {"name": "CVE-2026-0002", "severity": "LOW"},
        ]
    ),
    "enhanced findings": findings(
        status="ACTIVE",
        enhancedFindings=[{"severity": "CRITICAL", "title": "CVE-2026-0003 - openssl"}],
    ),
    "scan failed": findings(status="FAILED"),
    "still scanning": findings(status="IN_PROGRESS"),
    "unsupported image": findings(status="UNSUPPORTED_IMAGE"),
}


@pytest.mark.parametrize("name", FIXTURES)
def test_fixtures_have_the_shape_ecr_answers_with(name: str) -> None:
    assert botocore_problems(FIXTURES[name]) == ""


def test_the_shape_check_can_fail() -> None:
    wrong = findings()
    wrong["imageScanFindings"]["findingSeverityCounts"] = {"CRITICAL": "two"}
    assert "CRITICAL" in botocore_problems(wrong)
    misspelt = findings()
    misspelt["imageScanStatus"] = {"state": "COMPLETE"}
    assert "state" in botocore_problems(misspelt)


def test_the_gates_severities_are_ecrs() -> None:
    model = botocore.session.get_session().get_service_model("ecr")
    enum = model.shape_for("FindingSeverity").enum
    assert set(scan_gate.SEVERITIES) == set(enum) - {"UNDEFINED"}


@pytest.mark.parametrize(
    ("name", "threshold", "passes"),
    [
        ("clean", "CRITICAL", True),
        ("critical", "CRITICAL", False),
        ("high only", "CRITICAL", True),
        ("high only", "HIGH", False),
        ("clean", "MEDIUM", False),
        ("basic findings without counts", "CRITICAL", False),
        ("enhanced findings", "CRITICAL", False),
        ("scan failed", "CRITICAL", False),
        ("still scanning", "CRITICAL", False),
        ("unsupported image", "CRITICAL", False),
    ],
)
def test_the_gate_refuses_findings_at_or_above_the_threshold(
    name: str, threshold: str, passes: bool
) -> None:
    assert scan_gate.judge(FIXTURES[name], threshold).passed is passes


def test_a_refusal_says_what_was_found() -> None:
    verdict = scan_gate.judge(FIXTURES["critical"], "HIGH")
    assert verdict.reason == "2 CRITICAL, 5 HIGH (the gate refuses HIGH and above)"
    assert "FAILED" in scan_gate.judge(FIXTURES["scan failed"], "CRITICAL").reason


def run_gate(tmp_path: Path, fixture: str, *args: str) -> tuple[int, str, str]:
    path = tmp_path / "findings.json"
    path.write_text(json.dumps(FIXTURES[fixture]))
    summary = tmp_path / "summary.md"
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_ACTOR": "octocat"}
    env.pop("SCAN_GATE_FAIL_ON", None)
    done = subprocess.run(
        [sys.executable, "-m", "scripts.scan_gate", "--findings", str(path), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout, summary.read_text() if summary.exists() else ""


def test_a_critical_image_fails_the_step_with_an_error_annotation(tmp_path: Path) -> None:
    code, out, summary = run_gate(tmp_path, "critical")
    assert code == 1
    assert out.startswith("::error title=Scan gate::")
    assert "**refused**: 2 CRITICAL" in summary


def test_an_override_lets_it_through_with_a_warning_and_a_summary_line(tmp_path: Path) -> None:
    code, out, summary = run_gate(
        tmp_path, "critical", "--override-reason", "CVE-2026-0001 not reachable, fix in #42"
    )
    assert code == 0
    assert "::warning title=Scan gate overridden::" in out
    assert "by octocat: CVE-2026-0001 not reachable, fix in #42" in out
    assert "**OVERRIDDEN** by @octocat: CVE-2026-0001 not reachable, fix in #42" in summary


def test_a_clean_image_passes_and_the_summary_shows_the_counts(tmp_path: Path) -> None:
    code, _, summary = run_gate(tmp_path, "clean")
    assert code == 0
    assert "CRITICAL: 0 · HIGH: 0 · MEDIUM: 1 · LOW: 3" in summary
    assert "**passed**" in summary


def test_the_threshold_is_configurable_and_checked(tmp_path: Path) -> None:
    assert run_gate(tmp_path, "high only", "--fail-on", "high")[0] == 1
    code, out, _ = run_gate(tmp_path, "high only", "--fail-on", "severe")
    assert code == 2
    assert "--fail-on 'severe': must be one of INFORMATIONAL, LOW, MEDIUM, HIGH, CRITICAL" in out


FAKE_AWS = """#!{python}
import json, sys
with open({log!r}, "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
if sys.argv[1:4] == ["ecr", "wait", "image-scan-complete"]:
    sys.exit({wait_status})
print(open({answer!r}).read())
"""


def fake_aws(tmp_path: Path, fixture: str, wait_status: int = 0) -> tuple[dict[str, str], Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "aws.log"
    answer = tmp_path / "answer.json"
    answer.write_text(json.dumps(FIXTURES[fixture]))
    aws = bin_dir / "aws"
    aws.write_text(
        FAKE_AWS.format(
            python=sys.executable, log=str(log), answer=str(answer), wait_status=wait_status
        )
    )
    aws.chmod(aws.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    env["GITHUB_STEP_SUMMARY"] = str(tmp_path / "summary.md")
    return env, log


def test_the_image_path_waits_for_the_scan_then_reads_its_findings(tmp_path: Path) -> None:
    env, log = fake_aws(tmp_path, "clean")
    done = subprocess.run(
        [sys.executable, "-m", "scripts.scan_gate", "--image", IMAGE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    wait, describe = [json.loads(line) for line in log.read_text().splitlines()]
    ids = [
        "--registry-id",
        "123456789012",
        "--region",
        "eu-west-1",
        "--repository-name",
        "elixir-devops-release",
        "--image-id",
        f"imageDigest={DIGEST}",
    ]
    assert wait == ["ecr", "wait", "image-scan-complete", *ids]
    assert describe == ["ecr", "describe-image-scan-findings", *ids, "--output", "json"]


def test_a_scan_that_never_completes_is_not_a_pass(tmp_path: Path) -> None:
    env, _ = fake_aws(tmp_path, "still scanning", wait_status=255)
    done = subprocess.run(
        [sys.executable, "-m", "scripts.scan_gate", "--image", IMAGE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "scan status IN_PROGRESS" in done.stdout


def test_an_image_outside_ecr_or_not_pinned_is_refused_by_name() -> None:
    with pytest.raises(scan_gate.GateError, match="pinned by digest"):
        scan_gate.parse_image("ghcr.io/acme/app:latest")
    parsed = scan_gate.parse_image(IMAGE)
    assert (parsed.region, parsed.repository, parsed.digest) == (
        "eu-west-1",
        "elixir-devops-release",
        DIGEST,
    )
