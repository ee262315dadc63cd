"""The PC's own facts in a support bundle (printd/diagnostics/system.py), with and without the tools."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from printd.diagnostics.system import FACTS, system_files


def test_every_fact_is_there_and_a_missing_tool_says_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))   # a PC without any of the tools
    files = system_files()
    assert set(files) == {f"system/{f.file}" for f in FACTS} == {
        "system/lsusb.txt", "system/card-printer-devices.txt", "system/lpstat.txt", "system/service.txt",
        "system/printd-user.txt"}
    assert "lsusb is not installed on this PC (apt-get install usbutils)" in files["system/lsusb.txt"]
    assert "lpstat is not installed on this PC (apt-get install cups-client)" in files["system/lpstat.txt"]
    assert "$ systemctl show printd -p NRestarts" in files["system/service.txt"]


def test_a_tool_that_fails_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for tool in ("ls", "id"):
        found = shutil.which(tool)
        assert found, f"{tool} is part of coreutils"
        (tmp_path / tool).symlink_to(found)
    monkeypatch.setenv("PATH", str(tmp_path))
    files = system_files()
    # no udev rules matched here: the directory does not exist, and ls says so
    assert "/dev/card-printer/" in files["system/card-printer-devices.txt"]
    assert "(exit status 2)" in files["system/card-printer-devices.txt"]
    assert "(exit status" in files["system/printd-user.txt"] or "groups=" in files["system/printd-user.txt"]
