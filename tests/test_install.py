"""scripts/install into a throw-away root: twice (idempotent), then --uninstall keeps the data.

The run is real (useradd --prefix, python -m venv, pip install SRC[cups], systemctl --root enable)
and offline: the source tree is a copy of this repository whose build backend is swapped for
tests/offline_build_backend.py, so pip needs no index.
"""
from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "install"
PIP_ARGS = "--no-index --no-deps --quiet"
OFFLINE_BUILD_SYSTEM = """[build-system]
requires = []
build-backend = "offline_build_backend"
backend-path = ["_build"]

"""
SHIPPED = {
    "systemd/printd.service": ("etc/systemd/system/printd.service", 0o644),
    "config/60-printd-card-printers.rules": ("etc/udev/rules.d/60-printd-card-printers.rules", 0o644),
    "config/printd-modules.conf": ("etc/modules-load.d/printd.conf", 0o644),
    "docs/operations.md": ("opt/printd/doc/operations.md", 0o644),
}
TEST_CONFIG = "# printd.toml as shipped in the source tree (test copy)\n"


def _tools() -> None:
    for tool in ("useradd", "usermod", "systemctl"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} not found: apt-get install -y passwd systemd")


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A copy of the source tree that pip can build offline."""
    src = tmp_path / "src"
    shutil.copytree(REPO / "printd", src / "printd", ignore=shutil.ignore_patterns("__pycache__"))
    for rel in SHIPPED:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / rel, src / rel)
    # the example config is the lead's file; the installer only needs one to copy
    (src / "config" / "printd.toml").write_text(TEST_CONFIG)
    pyproject = (REPO / "pyproject.toml").read_text()
    pyproject, n = re.subn(r"(?ms)^\[build-system\]\n.*?(?=^\[)", OFFLINE_BUILD_SYSTEM, pyproject)
    assert n == 1
    (src / "pyproject.toml").write_text(pyproject)
    (src / "_build").mkdir()
    shutil.copyfile(Path(__file__).with_name("offline_build_backend.py"), src / "_build" / "offline_build_backend.py")
    (src / "README.md").write_text("printd\n")
    return src


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A target tree with the accounts a Debian system has before printd."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (root / "etc" / "group").write_text("root:x:0:\nlp:x:7:\ndialout:x:20:\n")
    return root


def _install(root: Path, source: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = ["bash", str(SCRIPT), "--root", str(root), "--source", str(source),
           "--python", sys.executable, "--pip-args", PIP_ARGS, *extra]
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, cwd=root.parent)
    assert result.returncode == 0, f"{cmd}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def _entries(path: Path, name: str) -> list[list[str]]:
    return [line.split(":") for line in path.read_text().splitlines() if line.split(":")[0] == name]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_install_twice_then_uninstall_keeps_data(root: Path, source: Path) -> None:
    _tools()
    _install(root, source)

    # --- the account ---
    [user] = _entries(root / "etc" / "passwd", "printd")
    [group] = _entries(root / "etc" / "group", "printd")
    uid, gid = int(user[2]), int(group[2])
    assert int(user[3]) == gid
    assert user[5:] == ["/var/lib/printd", "/usr/sbin/nologin"]
    assert uid < 1000, "a system account"
    for supplementary in ("lp", "dialout"):
        [g] = _entries(root / "etc" / "group", supplementary)
        assert g[3].split(",") == ["printd"]

    # --- files, modes, owners ---
    for rel, (dest, mode) in SHIPPED.items():
        installed = root / dest
        assert installed.read_bytes() == (source / rel).read_bytes(), dest
        assert _mode(installed) == mode, dest
    config = root / "etc" / "printd" / "printd.toml"
    assert config.read_text() == TEST_CONFIG
    assert (_mode(config), config.stat().st_uid, config.stat().st_gid) == (0o640, 0, gid)
    data = root / "var" / "lib" / "printd"
    assert (_mode(data), data.stat().st_uid, data.stat().st_gid) == (0o750, uid, gid)
    wants = root / "etc" / "systemd" / "system" / "multi-user.target.wants" / "printd.service"
    assert wants.is_symlink() and os.readlink(wants).endswith("/etc/systemd/system/printd.service")

    # --- the venv runs the package from the source tree, console script included ---
    venv = root / "opt" / "printd" / "venv"
    printd_script = venv / "bin" / "printd"
    assert printd_script.is_file() and os.access(printd_script, os.X_OK)
    assert "printd.cli.main" in printd_script.read_text()
    probe = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import importlib.metadata as m, printd; print(printd.__file__); print(m.version('printd'))"],
        capture_output=True, text=True, timeout=60, check=True, cwd=root,  # not the repo: '' is on sys.path
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},  # nor a checkout named by PYTHONPATH
    )
    where, version = probe.stdout.split()
    assert where.startswith(str(venv)) and version == "0.1.0"
    pyvenv_cfg = (venv / "pyvenv.cfg").stat()

    # --- an operator's edits and the station's data ---
    config.write_text("# edited by the operator\n")
    (data / "printd.db").write_text("blangko ledger")

    second = _install(root, source)
    assert "keeping existing" in second.stdout
    assert config.read_text() == "# edited by the operator\n"
    assert len(_entries(root / "etc" / "passwd", "printd")) == 1
    assert _entries(root / "etc" / "group", "lp")[0][3] == "printd"
    assert (venv / "pyvenv.cfg").stat().st_ino == pyvenv_cfg.st_ino, "the venv is reused, not rebuilt"
    assert printd_script.is_file()
    assert (data / "printd.db").read_text() == "blangko ledger"

    # --- uninstall: the service goes, the data and config stay ---
    _install(root, source, "--uninstall")
    for dest, _ in SHIPPED.values():
        assert not (root / dest).exists(), dest
    assert not (root / "opt" / "printd").exists()
    assert not wants.is_symlink()
    assert (data / "printd.db").read_text() == "blangko ledger"
    assert config.read_text() == "# edited by the operator\n"
    assert _entries(root / "etc" / "passwd", "printd"), "the owner of the kept data stays"
    _install(root, source, "--uninstall")  # nothing left to remove is not an error


def test_no_venv_installs_only_the_system_files(root: Path, source: Path) -> None:
    _tools()
    _install(root, source, "--no-venv", "--no-enable")
    assert (root / "etc" / "systemd" / "system" / "printd.service").is_file()
    assert not (root / "opt" / "printd" / "venv").exists()
    assert not (root / "etc" / "systemd" / "system" / "multi-user.target.wants").exists()


def test_refuses_an_incomplete_source_tree_before_touching_anything(root: Path, source: Path) -> None:
    (source / "config" / "printd.toml").unlink()
    result = subprocess.run(["bash", str(SCRIPT), "--root", str(root), "--source", str(source), "--no-venv"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "config/printd.toml is missing" in result.stderr
    assert sorted(p.name for p in root.rglob("*")) == ["etc", "group", "passwd"]


def test_unknown_option_fails_with_usage(root: Path) -> None:
    result = subprocess.run(["bash", str(SCRIPT), "--root", str(root), "--frobnicate"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "unknown option: --frobnicate" in result.stderr and "usage:" in result.stderr
