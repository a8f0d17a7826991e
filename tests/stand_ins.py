"""Stand-in command-line tools on PATH, and the CI scripts run as the workflows run them.

The scripts under scripts/ shell out to `aws`, `docker` and `pulumi`; their tests put Python
stand-ins of those on PATH that log their arguments and answer like the real ones, then run the
script in a fresh interpreter (``python -m scripts.<name>``) from the repository root.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def stand_in(bin_dir: Path, name: str, source: str) -> Path:
    """An executable ``bin_dir/name`` running ``source`` (Python) with this interpreter."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / name
    path.write_text(f"#!{sys.executable}\n{source}")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def path_env(bin_dir: Path, **extra: str) -> dict[str, str]:
    """This process's environment with ``bin_dir`` first on PATH, plus ``extra``."""
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", **extra}


def run_script(
    module: str, *args: str, env: Mapping[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``python -m <module> <args>`` from the repository root, output captured, never raising."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
