"""The README's promises stay true: its commands are CI's, its configuration table is current."""

from __future__ import annotations

import re
from pathlib import Path

import settings
from scripts import config_reference
from tests.harness import STACKS

PROJECT_DIR = Path(__file__).resolve().parent.parent
README = (PROJECT_DIR / "README.md").read_text()


def fenced_commands(section_title: str) -> list[str]:
    section = README.split(f"## {section_title}", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    return [line.split("#")[0].strip() for line in block.strip().splitlines()]


def test_readme_names_exactly_two_commands_up_and_test() -> None:
    assert fenced_commands("The two commands") == ["make up", "make test"]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    script = (PROJECT_DIR / ".ci" / "run").read_text().strip().splitlines()
    assert script[-1] == "make test"
    assert script[0].startswith("#!") and "set -euo pipefail" in script


def test_make_targets_of_the_readme_exist() -> None:
    makefile = (PROJECT_DIR / "Makefile").read_text()
    for target in ("up", "test", "preview", "down"):
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), target


def test_configuration_table_is_generated_from_pulumi_yaml() -> None:
    begin = README.index(config_reference.BEGIN)
    end = README.index(config_reference.END) + len(config_reference.END)
    assert README[begin:end] == config_reference.block(), (
        "README is stale: paste the output of `python -m scripts.config_reference`"
    )


def test_every_object_key_and_stack_is_documented() -> None:
    for key in settings.common.OBJECT_KEYS:
        assert f"| `{key}` |" in README, key
    for stack in STACKS:
        assert f"| `{stack}` |" in README, stack
