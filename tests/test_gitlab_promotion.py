"""GitLab's pipeline builds once and promotes that digest, as the GitHub workflows do.

The job graph is read from .gitlab-ci.yml with GitLab's ``extends`` merge (hashes merged
deeply, everything else replaced), so what is asserted is what each job really runs.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_workflows import GITLAB_CI, load

DEPLOY_JOBS = ("deploy-dev", "deploy-staging", "deploy-prod")


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def job(name: str) -> dict[str, Any]:
    """The job as GitLab runs it: its ``extends`` chain merged in."""
    document = load(GITLAB_CI)
    definition = dict(document[name])
    parents = definition.pop("extends", [])
    resolved: dict[str, Any] = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        resolved = merged(resolved, job(parent))
    return merged(resolved, definition)


def script_of(name: str) -> str:
    definition = job(name)
    return "\n".join([*definition.get("before_script", []), *definition.get("script", [])])


def jobs() -> list[str]:
    return [k for k, v in load(GITLAB_CI).items() if isinstance(v, dict) and "stage" in v]


def test_the_build_job_is_the_only_one_that_builds_and_hands_on_the_digest() -> None:
    build = job("build")
    assert "scripts.release build" in script_of("build")
    assert build["artifacts"]["reports"]["dotenv"] == "release.env"
    assert "RELEASE_IMAGE=" in script_of("build")
    builders = [
        name
        for name in jobs()
        if "scripts.release build" in script_of(name) or "docker build" in script_of(name)
    ]
    assert builders == ["build"]


@pytest.mark.parametrize("name", DEPLOY_JOBS)
def test_every_deploy_job_deploys_the_build_jobs_digest_and_never_builds(name: str) -> None:
    deploy = job(name)
    assert "build" in deploy["needs"], "the dotenv of build reaches only jobs that need it"
    script = script_of(name)
    assert 'pulumi config set elixir-devops:prebuiltImage "$RELEASE_IMAGE"' in script
    assert script.index("prebuiltImage") < script.index("pulumi up")
    assert "imageTag" not in script
    # No Docker engine at all: the program could not build an image if it tried.
    assert deploy["services"] == []
    assert "scripts.release record" in script


def test_prod_waits_for_the_scan_gate_which_reads_the_build_jobs_digest() -> None:
    assert "scan-gate" in job("deploy-prod")["needs"]
    gate = job("scan-gate")
    assert gate["needs"] == ["build"]
    assert 'scripts.scan_gate --image "$RELEASE_IMAGE"' in script_of("scan-gate")


def test_merge_request_previews_still_build_their_own_image() -> None:
    preview = job("preview")
    assert any(s["name"].startswith("docker:") for s in preview["services"])
    assert "imageTag" in script_of("preview")


def test_only_prod_tags_the_image_it_deployed_with_the_release_role() -> None:
    script = script_of("deploy-prod")
    assert "scripts.release protect" in script and '"$AWS_RELEASE_ROLE_ARN"' in script
    assert job("deploy-prod")["variables"]["PROTECT_RELEASE_IMAGE"] == "true"
    for name in ("deploy-dev", "deploy-staging"):
        assert "PROTECT_RELEASE_IMAGE" not in job(name).get("variables", {})
