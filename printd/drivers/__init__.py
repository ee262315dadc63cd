"""Printer drivers behind one seam (`base.Driver`), and the factory that builds them from config."""
from __future__ import annotations

from pathlib import Path

from printd.config import CupsPrinterConfig, EvolisPrinterConfig, MockPrinterConfig, PrinterConfig
from printd.drivers.base import Driver
from printd.errors import ConfigError


def create_driver(name: str, cfg: PrinterConfig, state_dir: Path) -> Driver:
    """Build the driver a `[printers.NAME]` table asks for. Imports hardware libraries lazily."""
    from printd.drivers.requirements import missing

    problems = missing(name, cfg)
    if problems:   # refused here, once, rather than failing with a traceback at every reconnect
        raise ConfigError("; ".join(problems))
    printer_dir = state_dir / "printers" / name
    if isinstance(cfg, MockPrinterConfig):
        from printd.drivers.mock import MockPrinter

        return MockPrinter(name, cfg, printer_dir)
    if isinstance(cfg, CupsPrinterConfig):
        from printd.drivers.cups.driver import CupsPrinter

        return CupsPrinter(name, cfg)
    if isinstance(cfg, EvolisPrinterConfig):
        from printd.drivers.evolis.driver import create_evolis_driver

        return create_evolis_driver(name, cfg, printer_dir)
    raise TypeError(f"no driver for {type(cfg).__name__}")
