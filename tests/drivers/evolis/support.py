"""Shared helpers for the Evolis tests: card images, configs, and emulator rigs on USB and on a pty."""
from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from printd.config import EvolisPrinterConfig
from printd.drivers.base import Card
from printd.drivers.evolis.driver import EmulatedEvolisDriver, EvolisDriver, create_evolis_driver
from printd.drivers.evolis.emulator import PRIMACY_ANSWERS, EvolisEmulator
from printd.drivers.evolis.emulator_links import PtyServer
from printd.drivers.transport.serial import SerialTransport

FIXTURES = Path(__file__).parent / "fixtures"
#: the emulator dialect the current test runs against (conftest.py parametrizes every test over both)
DIALECT = {"name": "guide"}


def dialect() -> str:
    return DIALECT["name"]


def primacy() -> bool:
    return dialect() == "primacy"


def said(guide_answer: str) -> str:
    """What the emulator answers in the current dialect where the guide dialect says `guide_answer`."""
    return PRIMACY_ANSWERS.get(guide_answer, guide_answer) if primacy() else guide_answer


def card_png(colour: tuple[int, int, int] = (200, 40, 40), text: str = "3274 0000 0000 0001",
             size: tuple[int, int] = (1016, 648)) -> bytes:
    """A small card design: a coloured photo block, black text, white card stock."""
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    draw.rectangle((30, 150, 300, 520), fill=colour)
    draw.rectangle((400, 300, 900, 330), fill=(0, 0, 0))
    draw.text((400, 400), text, fill=(0, 0, 0))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


FRONT = card_png()
BACK = card_png((255, 255, 255), "BERLAKU SEUMUR HIDUP")


def card(job_id: str = "job-1", attempt: int = 1, back: bool = True) -> Card:
    return Card(job_id=job_id, attempt=attempt, card_type="ktp-el", front_png=FRONT,
                back_png=BACK if back else None, title=f"printd {job_id}")


def evolis_config(**overrides: Any) -> EvolisPrinterConfig:
    """Fast settings: a card in ~0.05 s of emulated mechanics, short timeouts."""
    values: dict[str, Any] = {"driver": "evolis", "transport": "emulator", "time_scale": 1000.0,
                              "timeout_s": 1.0, "command_timeout_s": 0.5, "dialect": dialect()}
    values.update(overrides)
    return EvolisPrinterConfig(**values)


def usb_driver(printer_dir: Path, **overrides: Any) -> EmulatedEvolisDriver:
    """The factory's own emulator transport: the emulator behind pyusb."""
    driver = create_evolis_driver("card1", evolis_config(**overrides), printer_dir)
    assert isinstance(driver, EmulatedEvolisDriver)
    return driver


@dataclass
class SerialRig:
    """An emulator behind a pty, and a plain EvolisDriver talking to it with pyserial."""

    emulator: EvolisEmulator
    pty: PtyServer
    driver: EvolisDriver


@contextmanager
def serial_rig(printer_dir: Path, *, ack_nack: bool = False, **overrides: Any) -> Iterator[SerialRig]:
    emulator = EvolisEmulator(printer_dir, serial="EMUSERIAL1", time_scale=1000.0, ack_nack=ack_nack,
                              dialect=dialect())
    emulator.start()
    pty = PtyServer(emulator)
    cfg = evolis_config(transport="serial", port=pty.port, **overrides)
    driver = EvolisDriver("card2", cfg, SerialTransport(pty.port, baudrate=cfg.baudrate,
                                                         flow_control=cfg.flow_control), printer_dir)
    try:
        yield SerialRig(emulator, pty, driver)
    finally:
        emulator.clear_faults()
        driver.close()
        pty.close()
        emulator.stop()


def wait_until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll `check` until it holds (for conditions that end by themselves); fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)
