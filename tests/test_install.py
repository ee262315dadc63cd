"""scripts/install into a throw-away root, offline from a wheelhouse made by scripts/wheelhouse.

The run is real (useradd --prefix, python -m venv, pip install SRC[cups] with setuptools as the build
backend, systemctl --root enable) and follows docs/operations.md's offline recipe word for word: the
wheelhouse is built once by `scripts/wheelhouse` (the "connected machine", with pip's usual index), and
every install runs with `--pip-args "--no-index --find-links DIR"` and pip's own configuration switched
off, so nothing but that directory can supply a package.
"""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest_wheelhouse import offline_env, system_python

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "install"
SHIPPED = {
    "systemd/printd.service": ("etc/systemd/system/printd.service", 0o644),
    "config/60-printd-card-printers.rules": ("etc/udev/rules.d/60-printd-card-printers.rules", 0o644),
    "config/printd-modules.conf": ("etc/modules-load.d/printd.conf", 0o644),
    "docs/operations.md": ("opt/printd/doc/operations.md", 0o644),
}
# a working config: the embedded demo (two simulated printers), as an operator would start from
TEST_CONFIG = "# printd.toml as shipped in the source tree (test copy)\n" + \
    (REPO / "printd" / "default.toml").read_text()


def documented_pip_args(wheels: Path) -> str:
    """The --pip-args of docs/operations.md's offline install, with the wheelhouse's path."""
    return f"--no-index --find-links {wheels}"


def _tools() -> None:
    for tool in ("useradd", "usermod", "systemctl"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} not found: apt-get install -y passwd systemd")


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A copy of the source tree as an office would carry it (real pyproject.toml and build backend)."""
    src = tmp_path / "src"
    shutil.copytree(REPO / "printd", src / "printd", ignore=shutil.ignore_patterns("__pycache__"))
    for rel in SHIPPED:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / rel, src / rel)
    # the example config is the lead's file; the installer only needs one to copy
    (src / "config" / "printd.toml").write_text(TEST_CONFIG)
    shutil.copyfile(REPO / "pyproject.toml", src / "pyproject.toml")
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


def _install(root: Path, source: Path, *extra: str, wheels: Path | None = None,
             ok: bool = True, python: str = sys.executable) -> subprocess.CompletedProcess[str]:
    cmd = ["bash", str(SCRIPT), "--root", str(root), "--source", str(source), "--python", python,
           *(["--pip-args", documented_pip_args(wheels)] if wheels is not None else []), *extra]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=offline_env(), cwd=root.parent)
    assert (result.returncode == 0) == ok, f"{cmd}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def _venv_probe(venv: Path, cwd: Path) -> tuple[str, str]:
    """Where the venv's printd comes from and its version, run from outside any source tree."""
    probe = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import importlib.metadata as m, printd, cups; print(printd.__file__); print(m.version('printd'))"],
        capture_output=True, text=True, timeout=60, cwd=cwd, env=offline_env())
    assert probe.returncode == 0, probe.stderr
    where, version = probe.stdout.split()
    return where, version


def _entries(path: Path, name: str) -> list[list[str]]:
    return [line.split(":") for line in path.read_text().splitlines() if line.split(":")[0] == name]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_install_twice_then_uninstall_keeps_data(root: Path, source: Path, wheelhouse: Path) -> None:
    _tools()
    first = _install(root, source, wheels=wheelhouse)
    assert "new venv works: printd, version 0.1.0" in first.stdout

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
    command = root / "usr" / "local" / "bin" / "printd"
    assert _mode(command) == 0o755 and "exec /opt/printd/venv/bin/printd" in command.read_text()

    # --- the venv: a link to a versioned venv that runs printd from the wheel, console script included ---
    venv = root / "opt" / "printd" / "venv"
    assert venv.is_symlink() and os.readlink(venv).startswith("venvs/")
    printd_script = venv / "bin" / "printd"
    assert printd_script.is_file() and os.access(printd_script, os.X_OK)
    assert "printd.cli.main" in printd_script.read_text()
    where, version = _venv_probe(venv, root)
    # the package from the wheel inside the venv (reached through the link), not the source tree
    assert where.startswith(str(root / "opt" / "printd" / "venv")) and "/site-packages/" in where
    assert version == "0.1.0"
    first_venv = os.readlink(venv)

    # --- an operator's edits and the station's data ---
    config.write_text("# edited by the operator\n")
    (data / "printd.db").write_text("blangko ledger")

    second = _install(root, source, wheels=wheelhouse)
    assert "keeping existing" in second.stdout
    assert config.read_text() == "# edited by the operator\n"
    assert len(_entries(root / "etc" / "passwd", "printd")) == 1
    assert _entries(root / "etc" / "group", "lp")[0][3] == "printd"
    second_venv = os.readlink(venv)
    assert second_venv != first_venv, "an upgrade builds a new venv beside the old one"
    assert sorted(p.name for p in (root / "opt" / "printd" / "venvs").iterdir()) == \
        sorted(Path(v).name for v in (first_venv, second_venv)), "the one before is kept for a rollback"
    assert _venv_probe(venv, root)[1] == "0.1.0"
    assert (data / "printd.db").read_text() == "blangko ledger"

    third = _install(root, source, wheels=wheelhouse)
    assert "previous kept: " + second_venv in third.stdout
    assert not (root / "opt" / "printd" / first_venv).exists(), "older venvs are removed"

    # --- uninstall: the service goes, the data and config stay ---
    _install(root, source, "--uninstall")
    for dest, _ in SHIPPED.values():
        assert not (root / dest).exists(), dest
    assert not (root / "opt" / "printd").exists()
    assert not command.exists()
    assert not wants.is_symlink()
    assert (data / "printd.db").read_text() == "blangko ledger"
    assert config.read_text() == "# edited by the operator\n"
    assert _entries(root / "etc" / "passwd", "printd"), "the owner of the kept data stays"
    _install(root, source, "--uninstall")  # nothing left to remove is not an error


def test_a_failed_upgrade_leaves_the_installed_printd_working(root: Path, source: Path, wheelhouse: Path,
                                                              tmp_path: Path) -> None:
    """The wheelhouse of the bug report: printd's wheel without pycups. The new venv is never swapped in."""
    _tools()
    _install(root, source, wheels=wheelhouse)
    venv = root / "opt" / "printd" / "venv"
    before = os.readlink(venv)
    partial = tmp_path / "partial-wheels"
    shutil.copytree(wheelhouse, partial, ignore=shutil.ignore_patterns("pycups-*"))

    failed = _install(root, source, wheels=partial, ok=False)
    assert "the installed printd was not changed" in failed.stderr
    assert os.readlink(venv) == before
    assert [p.name for p in (root / "opt" / "printd" / "venvs").iterdir()] == [Path(before).name], \
        "the half-built venv is removed"
    assert _venv_probe(venv, root)[1] == "0.1.0"
    version = subprocess.run([str(venv / "bin" / "printd"), "--version"], capture_output=True, text=True,
                             timeout=60, env=offline_env())
    assert version.returncode == 0 and "0.1.0" in version.stdout


def test_a_venv_that_does_not_import_is_not_swapped_in(root: Path, source: Path, wheelhouse: Path) -> None:
    """pip succeeds but the package is broken (a syntax error slipped in): the import check stops the swap."""
    _tools()
    _install(root, source, wheels=wheelhouse)
    venv = root / "opt" / "printd" / "venv"
    before = os.readlink(venv)
    (source / "printd" / "app.py").write_text("this is not python\n")
    failed = _install(root, source, wheels=wheelhouse, ok=False)
    assert "cannot import printd or pycups" in failed.stdout + failed.stderr
    assert "the installed printd was not changed" in failed.stderr
    assert os.readlink(venv) == before
    assert _venv_probe(venv, root)[1] == "0.1.0"


@pytest.fixture
def public_root() -> Iterator[Path]:
    """A target tree another user can reach (pytest's tmp_path is private to root): the CLI drops to printd."""
    top = Path(tempfile.mkdtemp(prefix="printd-install-", dir="/tmp"))
    top.chmod(0o755)
    root = top / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (root / "etc" / "group").write_text("root:x:0:\nlp:x:7:\ndialout:x:20:\n")
    try:
        yield root
    finally:
        shutil.rmtree(top)


def test_the_printd_command_acts_on_the_stations_own_data_as_its_owner(public_root: Path, source: Path,
                                                                         wheelhouse: Path) -> None:
    """The admin types `sudo printd token create ...` anywhere: the station's database gets it, owned by printd."""
    _tools()
    if os.geteuid() != 0:
        pytest.fail("this test installs as root, as an office does (CI runs as root)")
    root = public_root
    # the CLI drops to the printd user, who must be able to read the interpreter the venv is made from
    _install(root, source, wheels=wheelhouse, python=system_python())
    [user] = _entries(root / "etc" / "passwd", "printd")
    uid, gid = int(user[2]), int(user[3])
    # the installed command with its live paths moved into the staging root (the tree is not chrooted)
    wrapper = (root / "usr" / "local" / "bin" / "printd").read_text()
    for live in ("/etc/printd", "/var/lib/printd", "/opt/printd"):
        wrapper = wrapper.replace(live, f"{root}{live}")
    command = root / "printd-command"
    command.write_text(wrapper)
    command.chmod(0o755)
    elsewhere = root.parent / "somewhere"
    elsewhere.mkdir()

    env = offline_env()
    for k in ("PRINTD_CONFIG", "PRINTD_STATE_DIR"):
        env.pop(k, None)
    made = subprocess.run([str(command), "token", "create", "--role", "enrollment", "--name", "siak"],
                          capture_output=True, text=True, timeout=60, cwd=elsewhere, env=env)
    assert made.returncode == 0, made.stderr
    assert made.stdout.splitlines()[-1].startswith("pd_")
    assert list(elsewhere.iterdir()) == [], "no ./state where the admin happened to be"
    data = root / "var" / "lib" / "printd"
    db_files = sorted(data.glob("printd.sqlite3*"))
    assert db_files, list(data.iterdir())
    for f in db_files:
        st = f.stat()
        assert (st.st_uid, st.st_gid) == (uid, gid), f"{f.name} must belong to the service's user"
        assert stat.S_IMODE(st.st_mode) & 0o077 == 0, f"{f.name} is private"
    listed = subprocess.run([str(command), "token", "list"], capture_output=True, text=True, timeout=60,
                            cwd=elsewhere, env=env)
    assert listed.returncode == 0 and "siak" in listed.stdout


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
