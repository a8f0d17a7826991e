"""The scan gate refuses what ECR's scan rates too severe, and an override leaves a trace.

The fixtures are `aws ecr describe-image-scan-findings` answers, validated against the output
shape of botocore's ECR model (a fixture with a misspelt key or a wrong type fails here, not in
the first real promotion). The `--image` path runs the script as CI does, against a stand-in
`aws` executable on PATH that records its arguments and answers with a fixture.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from scripts import scan_gate
from tests.stand_ins import path_env, run_script, stand_in

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
    done = run_script("scripts.scan_gate", "--findings", str(path), *args, env=env)
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


FAKE_AWS = """import json, sys
with open({log!r}, "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
with open({log!r}) as log:
    calls = len(log.readlines())
answers = json.load(open({answers!r}))
answer = answers[min(calls, len(answers)) - 1]
sys.stdout.write(answer["stdout"])
sys.stderr.write(answer["stderr"])
sys.exit(answer["status"])
"""
SCAN_NOT_FOUND = {
    "status": 254,
    "stdout": "",
    "stderr": "An error occurred (ScanNotFoundException) when calling the "
    "DescribeImageScanFindings operation: Image scan does not exist for the image",
}


def answer(fixture: str) -> dict[str, Any]:
    return {"status": 0, "stdout": json.dumps(FIXTURES[fixture]), "stderr": ""}


def fake_aws(tmp_path: Path, *answers: dict[str, Any]) -> tuple[dict[str, str], Path]:
    """A stand-in `aws` on PATH answering its calls in order (the last answer repeats)."""
    bin_dir = tmp_path / "bin"
    log = tmp_path / "aws.log"
    answers_file = tmp_path / "answers.json"
    answers_file.write_text(json.dumps(list(answers)))
    stand_in(bin_dir, "aws", FAKE_AWS.format(log=str(log), answers=str(answers_file)))
    env = path_env(
        bin_dir, GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"), GITHUB_ACTOR="octocat"
    )
    env.pop("SCAN_GATE_FAIL_ON", None)
    return env, log


def gate_image(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_script(
        "scripts.scan_gate", "--image", IMAGE, "--poll-seconds", "0.05", *args, env=env
    )


def calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


IDS = [
    "--registry-id",
    "123456789012",
    "--region",
    "eu-west-1",
    "--repository-name",
    "elixir-devops-release",
    "--image-id",
    f"imageDigest={DIGEST}",
]


def test_the_image_path_polls_the_findings_until_the_scan_completes(tmp_path: Path) -> None:
    env, log = fake_aws(
        tmp_path, answer("still scanning"), answer("still scanning"), answer("clean")
    )
    done = gate_image(env)
    assert done.returncode == 0, done.stdout + done.stderr
    describe = ["ecr", "describe-image-scan-findings", *IDS, "--output", "json"]
    assert calls(log) == [describe] * 3


def test_enhanced_scannings_active_status_is_judged_at_once(tmp_path: Path) -> None:
    """ACTIVE (enhanced scanning) never turns COMPLETE: no waiting for it."""
    env, log = fake_aws(tmp_path, answer("enhanced findings"))
    done = gate_image(env, "--wait-seconds", "30", "--poll-seconds", "10")
    assert done.returncode == 1
    assert "1 CRITICAL" in done.stdout
    assert len(calls(log)) == 1


@pytest.mark.parametrize("fixture", ["scan failed", "unsupported image"])
def test_a_final_status_other_than_a_result_is_refused_at_once(tmp_path: Path, fixture) -> None:
    env, log = fake_aws(tmp_path, answer(fixture))
    done = gate_image(env, "--wait-seconds", "30", "--poll-seconds", "10")
    assert done.returncode == 1
    assert f"scan status {FIXTURES[fixture]['imageScanStatus']['status']}" in done.stdout
    assert len(calls(log)) == 1


def test_every_ecr_scan_status_is_either_waited_for_or_judged() -> None:
    model = botocore.session.get_session().get_service_model("ecr")
    enum = set(model.shape_for("ScanStatus").enum)
    assert scan_gate.SCANNING.issubset(enum)
    assert scan_gate.SCANNED.issubset(enum)
    # Only COMPLETE and ACTIVE carry findings to pass; the rest are refusals.
    for status in enum - scan_gate.SCANNED:
        assert not scan_gate.judge(findings(status=status), "CRITICAL").passed, status


def test_a_scan_not_found_right_after_the_push_is_asked_again(tmp_path: Path) -> None:
    env, log = fake_aws(tmp_path, SCAN_NOT_FOUND, SCAN_NOT_FOUND, answer("clean"))
    done = gate_image(env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(calls(log)) == 3


def test_a_scan_that_never_completes_is_not_a_pass(tmp_path: Path) -> None:
    env, log = fake_aws(tmp_path, answer("still scanning"))
    done = gate_image(env, "--wait-seconds", "0.3")
    assert done.returncode == 1
    assert "no scan result after 0 s" in done.stdout
    assert "scan status IN_PROGRESS" in done.stdout
    assert 2 <= len(calls(log)) <= 10  # bounded by --wait-seconds


def test_a_scan_that_never_appears_is_a_refusal_the_override_passes(tmp_path: Path) -> None:
    """An image excluded from scanning: ScanNotFound until the bound, then refused (exit 1,
    not a crash), and an override lets it through like any refusal."""
    env, _ = fake_aws(tmp_path, SCAN_NOT_FOUND)
    refused = gate_image(env, "--wait-seconds", "0.2")
    assert refused.returncode == 1
    assert "scan status SCAN_NOT_FOUND" in refused.stdout
    passed = gate_image(env, "--wait-seconds", "0.2", "--override-reason", "scanning off, #7")
    assert passed.returncode == 0
    assert "::warning title=Scan gate overridden::" in passed.stdout


def test_a_failed_lookup_is_a_refusal_the_override_passes(tmp_path: Path) -> None:
    denied = {
        "status": 254,
        "stdout": "",
        "stderr": "An error occurred (AccessDeniedException) when calling the "
        "DescribeImageScanFindings operation: not authorized",
    }
    env, log = fake_aws(tmp_path, denied)
    refused = gate_image(env)
    assert refused.returncode == 1
    assert "scan status LOOKUP_FAILED" in refused.stdout
    assert "AccessDeniedException" in refused.stdout
    assert len(calls(log)) == 1  # not retried: only a scan not found yet is
    passed = gate_image(env, "--override-reason", "ECR down, CVE list checked by hand")
    assert passed.returncode == 0
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert "**OVERRIDDEN** by @octocat: ECR down, CVE list checked by hand" in summary


def test_an_override_reason_cannot_inject_workflow_commands(tmp_path: Path) -> None:
    code, out, summary = run_gate(
        tmp_path,
        "critical",
        "--override-reason",
        "fix in #42\n::add-mask::secret\r\n::stop-commands::x",
    )
    assert code == 0
    lines = out.splitlines()
    assert not [line for line in lines if line.startswith(("::add-mask::", "::stop-commands::"))]
    assert "promoted anyway by octocat: fix in #42 ::add-mask::secret ::stop-commands::x" in out
    assert "\n::" not in summary


def test_an_image_outside_ecr_or_not_pinned_is_refused_by_name() -> None:
    with pytest.raises(scan_gate.GateError, match="pinned by digest"):
        scan_gate.parse_image("ghcr.io/acme/app:latest")
    parsed = scan_gate.parse_image(IMAGE)
    assert (parsed.region, parsed.repository, parsed.digest) == (
        "eu-west-1",
        "elixir-devops-release",
        DIGEST,
    )
