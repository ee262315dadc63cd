"""One offline wheelhouse per session, made by the shipped recipe (scripts/wheelhouse), and pip without this
machine's own configuration, for the tests of the installer and of `make run`'s venv."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def offline_env() -> dict[str, str]:
    """pip with no configuration of this machine (its index mirrors, find-links, constraints)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PIP_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The offline wheelhouse, made by the shipped recipe from this source tree."""
    out = tmp_path_factory.mktemp("wheelhouse")
    # a clean copy: setuptools builds in the tree, and a stale build/ of the checkout must not leak in
    src = tmp_path_factory.mktemp("wheelhouse-src")
    shutil.copytree(REPO / "printd", src / "printd", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(REPO / name, src / name)
    done = subprocess.run(["bash", str(REPO / "scripts" / "wheelhouse"), str(out), "--python", sys.executable,
                           "--source", str(src)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    names = [p.name for p in out.glob("*.whl")]
    for wanted in ("printd-", "pycups-", "setuptools-", "wheel-", "fastapi-", "uvicorn-"):
        assert any(n.startswith(wanted) for n in names), (wanted, names)
    return out


def system_python() -> str:
    """The distribution's python3, as a print PC has it: readable by every user (pyenv's under /root is not)."""
    check = "import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))"
    for candidate in ("/usr/bin/python3", shutil.which("python3")):
        if candidate and subprocess.run([candidate, "-c", check]).returncode == 0:
            return candidate
    pytest.fail("no python3 >= 3.11 with venv: apt-get install python3 python3-venv")
