"""Writes ``tests/golden/urns-<stack>.txt``: every URN each committed stack registers.

Run it only to record a new baseline on purpose (``python -m tests.record_urns``). The golden
files are what existing users' stacks hold: ``tests/test_upgrade_keeps_urns.py`` asserts that
each of those URNs is still registered, or named by an alias of a registered resource, so an
upgrade replaces and deletes nothing.
"""

from __future__ import annotations

from tests.harness import PROJECT_DIR, STACKS, run_stack

GOLDEN_DIR = PROJECT_DIR / "tests" / "golden"


def golden_file(stack: str):
    return GOLDEN_DIR / f"urns-{stack}.txt"


def main() -> None:
    GOLDEN_DIR.mkdir(exist_ok=True)
    for stack in STACKS:
        run = run_stack(stack)
        assert run.error is None, run.error
        urns = sorted(r.urn for r in run.resources)
        golden_file(stack).write_text("\n".join(urns) + "\n")
        print(f"{stack}: {len(urns)} URNs")


if __name__ == "__main__":
    main()
