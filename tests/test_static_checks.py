"""The static-check gate: mypy and ruff are clean, with the configuration in pyproject.toml.

Both tools come with the test extras; a missing tool fails these tests (it is never skipped).
mypy keeps its incremental cache in the repository's .mypy_cache (git-ignored), so a re-run takes
well under a second once the first has filled it.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_mypy_is_clean() -> None:
    # no paths on the command line: [tool.mypy] files = ["printd"] says what is checked
    proc = _run("mypy")
    assert proc.returncode == 0, f"`python -m mypy` exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"


def test_ruff_is_clean() -> None:
    proc = _run("ruff", "check", "printd", "tests", "bench")
    assert proc.returncode == 0, (f"`python -m ruff check printd tests bench` exited {proc.returncode}:\n"
                                  f"{proc.stdout}{proc.stderr}")
