"""config/systemd/*.service.d: the TLS recipe's drop-ins, checked by systemd's own tools.

`systemd-analyze verify` reads `NAME.service.d/*.conf` beside the unit it is given, so each drop-in is
verified on top of the unit it extends: printd's own unit (systemd/printd.service) and the caddy.service of
Debian's caddy package. As in test_systemd_unit.py, any output at all is a finding. `systemd-analyze
security --offline` then shows that systemd applies the allow list.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.test_systemd_unit import REPO, UNIT, _copy_with_shim, _parse, _run, _systemd_analyze

PRINTD_DROPINS = REPO / "config" / "systemd" / "printd.service.d"
CADDY_DROPINS = REPO / "config" / "systemd" / "caddy.service.d"
#: Debian's caddy package installs its unit here (bookworm: caddy 2.6.2)
CADDY_UNIT = Path("/lib/systemd/system/caddy.service")


def _printd_with_dropins(tmp_path: Path, dropins: Path = PRINTD_DROPINS) -> Path:
    unit = _copy_with_shim(UNIT.read_text(), tmp_path)
    shutil.copytree(dropins, unit.parent / "printd.service.d")
    return unit


def _caddy_with_dropins(tmp_path: Path, dropins: Path = CADDY_DROPINS) -> Path:
    if not CADDY_UNIT.exists():
        pytest.fail(f"{CADDY_UNIT} missing: apt-get install caddy (scripts/install-test-deps)")
    units = tmp_path / "units"
    units.mkdir()
    shutil.copy(CADDY_UNIT, units / "caddy.service")
    shutil.copytree(dropins, units / "caddy.service.d")
    return units / "caddy.service"


def _misspelt(src: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "misspelt" / src.name
    shutil.copytree(src, copy)
    for conf in copy.glob("*.conf"):
        conf.write_text(conf.read_text().replace("IPAddressDeny=", "IPAdressDeny="))
    return copy


def test_printd_dropin_verifies_silently(tmp_path: Path) -> None:
    unit = _printd_with_dropins(tmp_path)
    result = _run(_systemd_analyze(), "verify", str(unit))
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_caddy_dropin_verifies_silently(tmp_path: Path) -> None:
    unit = _caddy_with_dropins(tmp_path)
    result = _run(_systemd_analyze(), "verify", str(unit))
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_verify_reads_the_dropins(tmp_path: Path) -> None:
    """Control: a misspelt key in either drop-in is reported, so the silence above covers them."""
    printd = _printd_with_dropins(tmp_path / "p", _misspelt(PRINTD_DROPINS, tmp_path / "p"))
    caddy = _caddy_with_dropins(tmp_path / "c", _misspelt(CADDY_DROPINS, tmp_path / "c"))
    for unit in (printd, caddy):
        result = _run(_systemd_analyze(), "verify", str(unit))
        assert "Unknown key 'IPAdressDeny'" in result.stdout + result.stderr, unit


def test_printd_talks_ip_to_this_pc_only(tmp_path: Path) -> None:
    svc = _parse((PRINTD_DROPINS / "behind-proxy.conf").read_text())["Service"]
    assert svc["IPAddressDeny"] == ["any"]
    assert svc["IPAddressAllow"] == ["localhost"]
    unit = _printd_with_dropins(tmp_path)
    result = _run(_systemd_analyze(), "security", "--offline=yes", "--no-pager", str(unit))
    assert "Service defines IP address allow list with only localhost entries" in result.stdout, result.stdout


def test_caddy_is_reachable_from_the_office_lan_only(tmp_path: Path) -> None:
    svc = _parse((CADDY_DROPINS / "printd.conf").read_text())["Service"]
    assert svc["IPAddressDeny"] == ["any"]
    allowed = {a for line in svc["IPAddressAllow"] for a in line.split()}
    assert allowed == {"localhost", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}
    assert any(e.startswith("PRINTD_SITE=") for e in svc["Environment"])
    unit = _caddy_with_dropins(tmp_path)
    result = _run(_systemd_analyze(), "security", "--offline=yes", "--no-pager", str(unit))
    assert "Service defines IP address allow list with non-localhost entries" in result.stdout, result.stdout
