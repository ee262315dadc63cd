"""`make run` on a fresh machine: scripts/setup-venv run installs printd alone, and printd then serves.

The venv is made in a copy of the source tree, offline, from a wheelhouse that holds printd's runtime
dependencies and the build backend but neither pycups nor any test tool: had the run path asked for one
of them, pip would fail here. A fresh Debian/Ubuntu has python3 and python3-venv, no compiler and no
libcups2-dev, so pycups (which builds from source) must not be needed to try printd.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest_wheelhouse import offline_env
from tests.support import free_port, wait_healthy

REPO = Path(__file__).resolve().parents[1]
TEST_ONLY = ("pycups", "pytest", "pytest-asyncio", "hypothesis", "schemathesis", "playwright", "mypy", "ruff")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A fresh clone as far as setup-venv sees it: no .venv."""
    src = tmp_path / "printd"
    shutil.copytree(REPO / "printd", src / "printd", ignore=shutil.ignore_patterns("__pycache__"))
    (src / "scripts").mkdir()
    shutil.copy2(REPO / "scripts" / "setup-venv", src / "scripts" / "setup-venv")
    for name in ("pyproject.toml", "README.md", "Makefile"):
        shutil.copyfile(REPO / name, src / name)
    return src


def _setup(checkout: Path, mode: str, wheels: Path | None, python: str = sys.executable,
           ) -> subprocess.CompletedProcess[str]:
    env = {**offline_env(), "PYTHON": python, "PIP_NO_INDEX": "1"}
    if wheels is not None:
        env["PIP_FIND_LINKS"] = str(wheels)
    return subprocess.run(["bash", "scripts/setup-venv", mode], cwd=checkout, env=env, capture_output=True,
                          text=True, timeout=600)


def test_make_run_installs_printd_alone_and_it_serves(checkout: Path, wheelhouse: Path, tmp_path: Path) -> None:
    runtime = tmp_path / "runtime-wheels"
    shutil.copytree(wheelhouse, runtime, ignore=shutil.ignore_patterns("pycups-*", "printd-*"))

    # `make run` is setup-venv's run mode, then serve
    # (without the outer make's variables: under `make test` a nested make prints "Entering directory")
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES")}
    recipe = subprocess.run(["make", "--no-print-directory", "-n", "run"], cwd=checkout, capture_output=True,
                            text=True, timeout=60, env=env)
    assert recipe.returncode == 0, recipe.stderr
    assert recipe.stdout.splitlines()[0] == "scripts/setup-venv run"

    done = _setup(checkout, "run", runtime)
    assert done.returncode == 0, done.stdout + done.stderr
    venv = checkout / ".venv"
    listed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze"],
                            capture_output=True, text=True, timeout=60, env=offline_env(), check=True)
    installed = {line.split("==")[0].lower() for line in listed.stdout.splitlines()}
    assert "printd" in installed and "fastapi" in installed
    assert not installed & set(TEST_ONLY), installed & set(TEST_ONLY)
    # editable: the checkout's own code runs
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import printd; print(printd.__file__)"],
                           capture_output=True, text=True, timeout=60, cwd="/", env=offline_env())
    assert where.stdout.strip() == str(checkout / "printd" / "__init__.py")

    again = _setup(checkout, "run", None)   # nothing changed: no pip at all (the index is not reachable)
    assert again.returncode == 0, again.stderr

    port = free_port()
    proc = subprocess.Popen([str(venv / "bin" / "printd"), "serve", "--state-dir", "state",
                             "--listen", f"127.0.0.1:{port}"], cwd=checkout, env=offline_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc=proc)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()["status"] in ("ok", "degraded")
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    assert b"Traceback" not in err, err.decode(errors="replace")
    assert (checkout / "state" / "initial-tokens.txt").exists()

    # this venv has no pycups, for real: a CUPS printer in the config is refused at once, in one line
    cups_cfg = tmp_path / "cups.toml"
    cups_cfg.write_text('[printers.card1]\ndriver = "cups"\nqueue = "Evolis_Primacy"\n')
    refused = subprocess.run([str(venv / "bin" / "printd"), "serve", "--config", str(cups_cfg), "--state-dir",
                              str(tmp_path / "cups-state"), "--listen", f"127.0.0.1:{free_port()}"],
                             capture_output=True, text=True, timeout=60, cwd=checkout, env=offline_env())
    assert refused.returncode == 1
    assert refused.stderr == 'Error: card1: driver "cups" needs pycups: install printd[cups]\n'


def _fake_python(tmp_path: Path, version: str) -> Path:
    """An interpreter that says it is `version` (a fresh Ubuntu 22.04 has 3.10)."""
    fake = tmp_path / f"python{version}"
    fake.write_text("#!/bin/sh\n"
                    'case "$*" in\n'
                    "  *version_info*) exit 1 ;;\n"
                    f"  *python_version*) echo {version} ;;\n"
                    "  *) exit 1 ;;\n"
                    "esac\n")
    fake.chmod(0o755)
    return fake


def test_run_says_which_python_it_needs(checkout: Path, tmp_path: Path) -> None:
    old = _setup(checkout, "run", None, python=str(_fake_python(tmp_path, "3.10.12")))
    assert old.returncode != 0
    assert "printd needs Python 3.11 or newer; " in old.stderr and "3.10.12" in old.stderr
    assert not (checkout / ".venv").exists()

    missing = _setup(checkout, "run", None, python="python3.0-not-here")
    assert missing.returncode != 0
    assert "printd needs Python 3.11 or newer and python3.0-not-here was not found" in missing.stderr
