"""Each configured driver's library is checked at start-up (printd/drivers/requirements.py).

`sys.modules[NAME] = None` is Python's own way to make `import NAME` raise ImportError, as on an install
without the library. The whole path without pycups, for real, is in tests/test_setup_venv.py (the
`make run` venv has no pycups).
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from printd.cli.main import main
from printd.config import parse
from printd.drivers import create_driver
from printd.drivers.requirements import missing_for
from printd.errors import ConfigError

CONFIG = """
[printers.card1]
driver = "cups"
queue = "Evolis_Primacy"
[printers.card2]
driver = "evolis"
transport = "serial"
port = "/dev/serial/by-id/usb-Evolis-if00"
card_type = "kia"
[printers.card3]
driver = "mock"
"""


def test_a_missing_library_is_one_line_per_printer(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = parse(CONFIG, "<test>")
    assert missing_for(settings) == []
    monkeypatch.setitem(sys.modules, "cups", None)
    monkeypatch.setitem(sys.modules, "serial", None)
    assert missing_for(settings) == [
        'card1: driver "cups" needs pycups: install printd[cups]',
        'card2: driver "evolis" needs pyserial: install printd (pyserial is one of its dependencies)',
    ]
    with pytest.raises(ConfigError, match=r'card1: driver "cups" needs pycups: install printd\[cups\]'):
        create_driver("card1", settings.printers["card1"], Path("/nonexistent"))


def test_serve_refuses_to_start_with_that_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "printd.toml"
    cfg.write_text(CONFIG)
    monkeypatch.setitem(sys.modules, "cups", None)
    r = CliRunner().invoke(main, ["serve", "--config", str(cfg), "--state-dir", str(tmp_path / "s")])
    assert r.exit_code == 1
    assert r.output == 'Error: card1: driver "cups" needs pycups: install printd[cups]\n'
    assert not (tmp_path / "s" / "printd.sqlite3").exists()


def test_a_desk_reader_without_pyscard_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = parse('[station]\nreader = "ACS ACR122U"\n' + CONFIG, "<test>")
    assert missing_for(settings) == []
    monkeypatch.setitem(sys.modules, "smartcard", None)
    monkeypatch.setitem(sys.modules, "smartcard.scard", None)
    assert missing_for(settings) == ['[station] reader "ACS ACR122U" needs pyscard: install printd[reader] (and pcscd)']
