#!/usr/bin/env python3
"""The scan gate: promotion refuses an image with findings at or above a severity in ECR's scan.

Usage (the prod deploy job, before `pulumi up`):

    python -m scripts.scan_gate --image <account>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:<d>
    python -m scripts.scan_gate --findings findings.json     # a saved describe-image-scan-findings

With ``--image`` it polls ``aws ecr describe-image-scan-findings`` (every ``--poll-seconds``,
for at most ``--wait-seconds``) until the scan has a result. The image passes when the scan is
complete (or, with enhanced scanning, active) and counts no finding at or above ``--fail-on``
(default CRITICAL, or the SCAN_GATE_FAIL_ON variable). A scan that failed, never finished,
cannot scan the image, or whose findings cannot be read is not a pass (and, like any refusal,
the override can let the image through).

``--override-reason`` (the deploy workflow's ``scan-override-reason`` input) lets a refused
image through, and says so where reviewers look: a ``::warning::`` annotation on the run and a
line in the step summary, naming who overrode it and why.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# ECR's FindingSeverity enum, least to most severe (UNDEFINED: no rating, never gated on).
SEVERITIES = ("INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL")
DEFAULT_FAIL_ON = "CRITICAL"
# ScanStatus values with findings to read: basic scanning's COMPLETE, enhanced scanning's ACTIVE.
SCANNED = frozenset({"COMPLETE", "ACTIVE"})
# ScanStatus values of a scan still under way: asked again (every POLL_SECONDS, for at most
# WAIT_SECONDS); every other status is final for the gate.
SCANNING = frozenset({"PENDING", "IN_PROGRESS"})
WAIT_SECONDS = 300
POLL_SECONDS = 5

_IMAGE = re.compile(
    r"^(?P<registry>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/"
    r"(?P<repository>[a-z0-9._/-]+)@(?P<digest>sha256:[0-9a-f]{64})$"
)


class GateError(ValueError):
    """A bad argument or an unreadable scan result, named."""


@dataclass(frozen=True)
class EcrImage:
    registry: str
    region: str
    repository: str
    digest: str


def parse_image(reference: str) -> EcrImage:
    match = _IMAGE.match(reference)
    if match is None:
        raise GateError(
            f"--image {reference!r}: must be an ECR image pinned by digest, "
            "<account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<64 hex>"
        )
    return EcrImage(match["registry"], match["region"], match["repository"], match["digest"])


def fail_on(value: str | None) -> str:
    threshold = (value or DEFAULT_FAIL_ON).strip().upper()
    if threshold not in SEVERITIES:
        raise GateError(f"--fail-on {value!r}: must be one of {', '.join(SEVERITIES)}")
    return threshold


def severity_counts(findings: Mapping[str, Any]) -> dict[str, int]:
    """Findings per severity: ECR's own counts, or counted from the listed findings."""
    scan = findings.get("imageScanFindings") or {}
    counts = scan.get("findingSeverityCounts")
    if counts:
        return {severity: int(counts.get(severity, 0)) for severity in SEVERITIES}
    listed = [*(scan.get("findings") or []), *(scan.get("enhancedFindings") or [])]
    return {
        severity: sum(1 for f in listed if str(f.get("severity", "")).upper() == severity)
        for severity in SEVERITIES
    }


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reason: str
    counts: Mapping[str, int]
    status: str


def judge(findings: Mapping[str, Any], threshold: str) -> Verdict:
    """Whether ``describe-image-scan-findings`` output lets the image through."""
    status_block = findings.get("imageScanStatus") or {}
    status = str(status_block.get("status") or "MISSING")
    counts = severity_counts(findings)
    if status not in SCANNED:
        detail = status_block.get("description") or "no findings to judge"
        return Verdict(False, f"scan status {status}: {detail}", counts, status)
    gated = SEVERITIES[SEVERITIES.index(threshold) :]
    blocking = {s: counts[s] for s in gated if counts[s]}
    if blocking:
        listed = ", ".join(f"{n} {s}" for s, n in reversed(blocking.items()))
        return Verdict(False, f"{listed} (the gate refuses {threshold} and above)", counts, status)
    return Verdict(True, f"no finding at {threshold} or above", counts, status)


def one_line(text: str) -> str:
    """``text`` without line breaks: a newline in a ``::warning::`` line would let the override
    reason start workflow commands of its own (``::add-mask::``, ``::stop-commands::``...)."""
    return " ".join(text.split()) if text.strip() else ""


def summary_markdown(
    image: str, verdict: Verdict, threshold: str, override: str, actor: str
) -> str:
    counts = " · ".join(f"{s}: {verdict.counts[s]}" for s in reversed(SEVERITIES))
    lines = [
        "### Image scan gate",
        "",
        f"- Image: `{image}`",
        f"- Scan: {verdict.status}; {counts}",
        f"- Gate: refuse {threshold} and above",
    ]
    if verdict.passed:
        lines.append(f"- Result: **passed** ({verdict.reason})")
    elif override:
        who = actor or "unknown"
        lines.append(f"- Result: **OVERRIDDEN** by @{who}: {override} (refused: {verdict.reason})")
    else:
        lines.append(f"- Result: **refused**: {verdict.reason}")
    return "\n".join(lines) + "\n"


def gate(
    findings: Mapping[str, Any],
    *,
    image: str,
    threshold: str,
    override: str,
    actor: str,
    summary: Path | None,
) -> int:
    """Prints the verdict (GitHub annotations) and appends it to the step summary: 0 or 1."""
    verdict = judge(findings, threshold)
    override = one_line(override)
    if summary is not None:
        with summary.open("a", encoding="utf-8") as out:
            out.write(summary_markdown(image, verdict, threshold, override, actor))
    if verdict.passed:
        print(f"scan gate passed for {image}: {verdict.reason}")
        return 0
    if override:
        print(
            f"::warning title=Scan gate overridden::{image} was refused ({verdict.reason}) and "
            f"promoted anyway by {actor or 'unknown'}: {override}"
        )
        return 0
    print(
        f"::error title=Scan gate::{image} is not promoted: {verdict.reason}. Fix the image, or "
        "rerun the deploy workflow with scan-override-reason to promote it anyway (logged)."
    )
    return 1


def lookup_failure(status: str, description: str) -> dict[str, Any]:
    """A findings document the gate refuses (and an override can pass), for a scan result that
    could not be read: the refusal names what went wrong."""
    return {"imageScanStatus": {"status": status, "description": description}}


def fetch_findings(
    image: EcrImage,
    *,
    wait_seconds: float,
    poll_seconds: float = POLL_SECONDS,
    aws: str = "aws",
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Polls ``describe-image-scan-findings`` for ``image`` until its scan has a result (basic
    scanning's COMPLETE, enhanced scanning's ACTIVE, or a status that will not change), for at
    most ``wait_seconds``. A scan not found yet (right after the push) is asked again within the
    bound; any other failure to read the findings comes back as a status the gate refuses."""
    ids = [
        "--registry-id",
        image.registry,
        "--region",
        image.region,
        "--repository-name",
        image.repository,
        "--image-id",
        f"imageDigest={image.digest}",
    ]
    deadline = clock() + wait_seconds
    while True:
        try:
            described = subprocess.run(
                [aws, "ecr", "describe-image-scan-findings", *ids, "--output", "json"],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return lookup_failure("LOOKUP_FAILED", f"aws ecr describe-image-scan-findings: {error}")
        if described.returncode == 0:
            try:
                findings = json.loads(described.stdout)
            except json.JSONDecodeError as error:
                return lookup_failure("LOOKUP_FAILED", f"unreadable findings: {error}")
            status = str((findings.get("imageScanStatus") or {}).get("status") or "")
            if status not in SCANNING:
                return findings
            waiting = findings
        elif "ScanNotFoundException" in described.stderr:
            waiting = lookup_failure("SCAN_NOT_FOUND", "ECR has not started scanning the image")
        else:
            error = described.stderr.strip() or f"exit status {described.returncode}"
            return lookup_failure("LOOKUP_FAILED", f"aws ecr describe-image-scan-findings: {error}")
        if clock() + poll_seconds > deadline:
            print(f"::warning title=Scan gate::no scan result after {wait_seconds:.0f} s")
            return waiting
        sleep(poll_seconds)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(prog="python -m scripts.scan_gate", description=__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--image", help="ECR image reference pinned by digest")
    source.add_argument("--findings", type=Path, help="saved describe-image-scan-findings JSON")
    parser.add_argument("--fail-on", default=environ.get("SCAN_GATE_FAIL_ON", ""))
    parser.add_argument("--override-reason", default="")
    parser.add_argument("--wait-seconds", type=float, default=WAIT_SECONDS)
    parser.add_argument("--poll-seconds", type=float, default=POLL_SECONDS)
    args = parser.parse_args(argv)
    summary = environ.get("GITHUB_STEP_SUMMARY")
    try:
        threshold = fail_on(args.fail_on)
        if args.image:
            image = args.image
            findings = fetch_findings(
                parse_image(image), wait_seconds=args.wait_seconds, poll_seconds=args.poll_seconds
            )
        else:
            findings = json.loads(args.findings.read_text(encoding="utf-8"))
            image = args.findings.name
    except (GateError, json.JSONDecodeError, OSError) as error:
        print(f"::error title=Scan gate::{error}")
        return 2
    return gate(
        findings,
        image=image,
        threshold=threshold,
        override=args.override_reason,
        actor=environ.get("GITHUB_ACTOR", ""),
        summary=Path(summary) if summary else None,
    )


if __name__ == "__main__":
    sys.exit(main())
