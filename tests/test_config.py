from __future__ import annotations

from pathlib import Path

import pytest

from printd import config
from printd.config import CupsPrinterConfig, EvolisPrinterConfig, MockPrinterConfig
from printd.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def test_embedded_default_has_two_simulated_printers() -> None:
    s = config.load(None)
    assert list(s.printers) == ["card1", "card2"]
    assert all(isinstance(p, MockPrinterConfig) for p in s.printers.values())
    assert s.server.listen == "127.0.0.1:8740" and s.station.daily_capacity == 250
    assert s.station.timezone == "Asia/Jakarta"


def test_example_config_is_valid_and_complete() -> None:
    s = config.load(ROOT / "config" / "printd.toml")
    assert isinstance(s.printers["card1"], CupsPrinterConfig) and s.printers["card1"].queue == "HDP5000_1"
    assert isinstance(s.printers["card2"], EvolisPrinterConfig)
    text = (ROOT / "config" / "printd.toml").read_text()
    # every key of every section (and of each printer kind) is shown in the example
    for section in ("server", "station", "stock", "supplies", "policy", "logging", "webhooks"):
        model = type(getattr(s, section))
        for key in model.model_fields:
            assert f"{key} =" in text, f"[{section}] {key} is not documented in config/printd.toml"
    for model in (MockPrinterConfig, CupsPrinterConfig, EvolisPrinterConfig):
        for key in model.model_fields:
            assert f"{key} =" in text, f"printer key {key} ({model.__name__}) is not documented"


@pytest.mark.parametrize("text,needle", [
    ('[printers.a]\ndriver = "mock"\ntime_scale = "fast"', "[printers.a.time_scale]"),
    ('[printers.a]\ndriver = "mock"\ntimescale = 2', "[printers.a.timescale] unknown key"),
    ('[printers.a]\ndriver = "laser"', 'driver must be "mock", "cups" or "evolis"'),
    ('[printers.a]\ndriver = "cups"', "[printers.a.queue] Field required"),
    ('[printers.a]\ndriver = "evolis"\ntransport = "usb"', "needs serial_number"),
    ('[printers."A!"]\ndriver = "mock"', "printer name"),
    ('[server]\nlisten = "8740"\n[printers.a]\ndriver = "mock"', "[server.listen] must be HOST:PORT"),
    ('[station]\ndaily_capacity = 0\n[printers.a]\ndriver = "mock"', "[station.daily_capacity]"),
    ('[station]\ntimezone = "WIB"\n[printers.a]\ndriver = "mock"', "unknown time zone"),
    # the office is printed on the berita acara and the board: one printable line
    ('[station]\noffice = ""\n[printers.a]\ndriver = "mock"', "[station.office]"),
    ('[station]\noffice = "Dinas\\nDukcapil"\n[printers.a]\ndriver = "mock"', "[station.office]"),
    ('[printers.a\ndriver = "mock"', "not valid TOML"),
    ("[station]\nname = 'x'", "at least one [printers.NAME]"),
])
def test_errors_are_one_line_naming_the_key_and_file(text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as exc:
        config.parse(text, "/etc/printd/printd.toml")
    msg = str(exc.value)
    assert msg.startswith("/etc/printd/printd.toml: ") and needle in msg and "\n" not in msg


def test_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        config.load(tmp_path / "nope.toml")


def test_every_problem_is_reported_at_once_one_line_each() -> None:
    text = ('[server]\nlisten = "8740"\n[station]\ndaily_capacity = 0\n'
            '[printers.a]\ndriver = "mock"\ntimescale = 2\n[printers.b]\ndriver = "cups"\n')
    with pytest.raises(ConfigError) as exc:
        config.parse(text, "/etc/printd/printd.toml")
    lines = str(exc.value).splitlines()
    assert lines[0] == "/etc/printd/printd.toml: 4 problems:"
    assert sorted(line.strip().split("]")[0] + "]" for line in lines[1:]) == [
        "[printers.a.timescale]", "[printers.b.queue]", "[server.listen]", "[station.daily_capacity]"]
