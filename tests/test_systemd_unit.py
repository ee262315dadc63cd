"""systemd/printd.service: systemd's own checker finds nothing, and the unit says what ops relies on."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
UNIT = REPO / "systemd" / "printd.service"
EXEC_BINARY = "/opt/printd/venv/bin/printd"
EXEC_ARGS = "serve --config /etc/printd/printd.toml --state-dir /var/lib/printd"
#: `systemd-analyze security` exposure, 0 (locked down) .. 10 (wide open); 1.5 on systemd 252
MAX_EXPOSURE = 3.0


def _systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.fail("systemd-analyze not found: apt-get install -y systemd (it is a real check, not optional)")
    return path


def _parse(text: str) -> dict[str, dict[str, list[str]]]:
    """Unit file -> section -> key -> values (keys repeat in units, e.g. DeviceAllow=)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"key outside a section: {raw!r}"
        key, sep, value = line.partition("=")
        assert sep, f"not KEY=VALUE: {raw!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def _copy_with_shim(unit_text: str, tmp_path: Path) -> Path:
    """The unit in tmp_path with ExecStart's binary swapped for an existing shim; all else identical."""
    shim = tmp_path / "bin" / "printd"
    shim.parent.mkdir()
    shim.write_text("#!/bin/sh\nexit 0\n")
    shim.chmod(0o755)
    lines = unit_text.splitlines(keepends=True)
    exec_lines = [i for i, line in enumerate(lines) if line.startswith("ExecStart=")]
    assert len(exec_lines) == 1, "exactly one ExecStart= line"
    i = exec_lines[0]
    prefix = f"ExecStart={EXEC_BINARY} "
    assert lines[i].startswith(prefix), lines[i]
    lines[i] = f"ExecStart={shim} " + lines[i][len(prefix):]
    # same file name: systemd derives the unit name (and type) from it
    copy = tmp_path / "units" / UNIT.name
    copy.parent.mkdir()
    copy.write_text("".join(lines))
    original, rewritten = unit_text.splitlines(), copy.read_text().splitlines()
    assert len(original) == len(rewritten)
    assert [n for n, (a, b) in enumerate(zip(original, rewritten, strict=True)) if a != b] == [i]
    return copy


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8", "SYSTEMD_LOG_COLOR": "0",
             "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0"},
    )


def test_systemd_analyze_verify_is_silent(tmp_path: Path) -> None:
    unit = _copy_with_shim(UNIT.read_text(), tmp_path)
    result = _run(_systemd_analyze(), "verify", str(unit))
    # verify exits 0 on unknown keys and bad values: any output at all is a finding
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_verify_would_catch_a_misspelt_key(tmp_path: Path) -> None:
    """Control: the silence above means something on this systemd version."""
    text = UNIT.read_text().replace("ProtectSystem=strict", "ProtectSytem=strict")
    unit = _copy_with_shim(text, tmp_path)
    result = _run(_systemd_analyze(), "verify", str(unit))
    assert "Unknown key 'ProtectSytem'" in result.stdout + result.stderr


def test_exposure_stays_low(tmp_path: Path) -> None:
    unit = _copy_with_shim(UNIT.read_text(), tmp_path)
    result = _run(_systemd_analyze(), "security", "--offline=yes", "--no-pager", str(unit))
    m = re.search(r"Overall exposure level for printd\.service: (\d+\.\d)", result.stdout)
    assert m, result.stdout + result.stderr
    assert float(m.group(1)) <= MAX_EXPOSURE, result.stdout


def test_unit_keeps_the_fixed_interface_and_ops_settings() -> None:
    unit = _parse(UNIT.read_text())
    svc, install = unit["Service"], unit["Install"]

    def one(key: str) -> str:
        assert key in svc, f"[Service] {key}= missing"
        assert len(svc[key]) == 1, f"[Service] {key}= given {len(svc[key])} times"
        return svc[key][0]

    assert one("ExecStart") == f"{EXEC_BINARY} {EXEC_ARGS}"
    expected = {
        "Type": "notify", "NotifyAccess": "main", "WatchdogSec": "30", "Restart": "on-failure",
        "StateDirectory": "printd", "ConfigurationDirectory": "printd", "User": "printd", "Group": "printd",
        "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "NoNewPrivileges": "yes",
        "ProtectKernelTunables": "yes", "ProtectControlGroups": "yes", "LockPersonality": "yes",
        "RestrictRealtime": "yes", "SystemCallArchitectures": "native", "DevicePolicy": "closed",
        "KillSignal": "SIGTERM",
    }
    assert {k: one(k) for k in expected} == expected
    assert int(one("TimeoutStopSec")) >= 60, "a card in flight (~50 s dual-sided) must be able to finish"
    assert "lp" in one("SupplementaryGroups").split()
    assert set(one("RestrictAddressFamilies").split()) == {"AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"}
    assert {"char-usb_device rw", "char-ttyUSB rw", "char-ttyACM rw"} <= set(svc["DeviceAllow"])
    # these would hide /dev/bus/usb and the ttys, or the CUPS socket, from the daemon
    assert svc.get("PrivateDevices", ["no"]) == ["no"]
    assert svc.get("PrivateNetwork", ["no"]) == ["no"]
    assert not any("/run" in p for key in ("InaccessiblePaths", "TemporaryFileSystem") for p in svc.get(key, []))
    assert install["WantedBy"] == ["multi-user.target"]


def test_descriptor_limit_fits_the_connection_cap_and_the_reserve() -> None:
    """Issue 14: under systemd's default 1,024 descriptors, ~1,100 idle connections stopped the station.

    The unit raises the limit so the default [server] max_connections keeps its FD_RESERVE free.
    """
    from printd.api.connections import FD_RESERVE, connection_cap
    from printd.config import ServerConfig

    limit = int(_parse(UNIT.read_text())["Service"]["LimitNOFILE"][0])
    default_cap = ServerConfig().max_connections
    assert limit >= default_cap + FD_RESERVE
    assert connection_cap(default_cap, limit) == default_cap
    # a smaller limit (e.g. an old drop-in) lowers the cap instead of running out of descriptors
    assert connection_cap(default_cap, 600) == 600 - FD_RESERVE
