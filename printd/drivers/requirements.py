"""The Python libraries each configured driver needs, checked once at start-up.

pycups is an extra (`printd[cups]`): it builds from source, and a station with only USB or serial
printers does without it. A `driver = "cups"` printer on an install without it would otherwise fail
at every reconnect with a traceback and a page that blames the cable; instead the daemon refuses to
start with one line per printer that says what to install.
"""
from __future__ import annotations

import importlib

from printd.config import CupsPrinterConfig, EvolisPrinterConfig, PrinterConfig, Settings

#: (module to import, the distribution that has it, what to install)
_PYCUPS = ("cups", "pycups", "printd[cups]")
_PYUSB = ("usb.core", "pyusb", "printd (pyusb is one of its dependencies)")
_PYSERIAL = ("serial", "pyserial", "printd (pyserial is one of its dependencies)")


def needed(cfg: PrinterConfig) -> list[tuple[str, str, str]]:
    """The libraries a printer's driver imports."""
    if isinstance(cfg, CupsPrinterConfig):
        return [_PYCUPS]
    if isinstance(cfg, EvolisPrinterConfig):
        return [_PYSERIAL] if cfg.transport == "serial" else [_PYUSB]
    return []


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:   # also a C extension whose shared library is gone (libcups2 removed)
        return False
    return True


def missing(name: str, cfg: PrinterConfig) -> list[str]:
    """One line per library this printer's driver needs and cannot import."""
    return [f'{name}: driver "{cfg.driver}" needs {dist}: install {remedy}'
            for module, dist, remedy in needed(cfg) if not _importable(module)]


def missing_for(settings: Settings) -> list[str]:
    """Every missing library of every configured printer (and of the desk reader), as lines for the operator."""
    lines = [line for name, cfg in settings.printers.items() for line in missing(name, cfg)]
    if settings.station.reader and not _importable("smartcard.scard"):
        lines.append(f'[station] reader "{settings.station.reader}" needs pyscard: install printd[reader] '
                     "(and pcscd)")
    return lines
