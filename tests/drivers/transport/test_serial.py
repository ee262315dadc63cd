"""The pyserial transport on a real pty: open by path, read/write, settings, a vanished port."""
from __future__ import annotations

import os
import tty
from collections.abc import Iterator
from typing import Any

import pytest
import serial

from printd.drivers.transport import DeviceNotFound, LinkLost, Transport
from printd.drivers.transport.serial import SerialTransport


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, str]]:
    master, slave = os.openpty()
    tty.setraw(slave)
    yield master, os.ttyname(slave)
    for fd in (master, slave):
        try:
            os.close(fd)
        except OSError:
            pass


def test_bytes_go_both_ways(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair
    t = SerialTransport(path, baudrate=115200)
    assert isinstance(t, Transport) and not t.packetized
    t.open()
    t.write(b"\x1bRsn\r")
    assert os.read(master, 100) == b"\x1bRsn\r"
    os.write(master, b"EMU123")
    assert t.read(2.0) == b"EMU123"
    assert t.read(0.05) == b""
    assert t.describe() == {"transport": "serial", "port": path, "baudrate": 115200, "flow_control": "none",
                            "open": True}
    t.close()
    assert not t.is_open


def test_a_missing_port_is_not_found() -> None:
    with pytest.raises(DeviceNotFound, match="/dev/serial/by-id/nope"):
        SerialTransport("/dev/serial/by-id/nope").open()


@pytest.mark.parametrize("flow, rtscts, xonxoff", [("none", False, False), ("rtscts", True, False),
                                                   ("xonxoff", False, True)])
def test_settings_come_from_the_config(flow: str, rtscts: bool, xonxoff: bool) -> None:
    seen: dict[str, Any] = {}

    def factory(**kwargs: Any) -> object:
        seen.update(kwargs)
        return object()

    SerialTransport("/dev/ttyS0", baudrate=9600, flow_control=flow, factory=factory).open()
    assert (seen["port"], seen["baudrate"]) == ("/dev/ttyS0", 9600)
    assert (seen["rtscts"], seen["xonxoff"]) == (rtscts, xonxoff)
    assert (seen["bytesize"], seen["parity"], seen["stopbits"]) == (serial.EIGHTBITS, serial.PARITY_NONE,
                                                                    serial.STOPBITS_ONE)


def test_rts_cts_opens_on_a_pty(pty_pair: tuple[int, str]) -> None:
    _, path = pty_pair
    t = SerialTransport(path, flow_control="rtscts")
    t.open()
    assert t._ser.rtscts is True
    t.close()


def test_the_reply_gap_follows_the_baud_rate() -> None:
    assert SerialTransport("/dev/x", baudrate=9600).reply_gap_s == pytest.approx(30 * 10 / 9600)
    assert SerialTransport("/dev/x", baudrate=115200).reply_gap_s == 0.01
    with pytest.raises(ValueError, match="flow_control"):
        SerialTransport("/dev/x", flow_control="dtr")


def test_a_vanished_port_is_link_lost(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair
    t = SerialTransport(path)
    t.open()
    os.close(master)   # the other end goes away, as when a USB-serial adapter is pulled
    with pytest.raises(LinkLost):
        t.read(0.5)
    assert not t.is_open
