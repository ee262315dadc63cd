"""The pyusb transport against the emulator's fake backend: find by serial, endpoints, unplug, replug."""
from __future__ import annotations

import errno
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import usb.core

from printd.drivers.evolis.emulator import EvolisEmulator
from printd.drivers.evolis.emulator_links import EmulatorUsbBackend
from printd.drivers.transport import DeviceNotFound, LinkLost, Transport
from printd.drivers.transport.usb import UsbTransport


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[EmulatorUsbBackend]:
    emulator = EvolisEmulator(tmp_path, serial="EMUUSB01", time_scale=1000.0)
    emulator.start()
    yield EmulatorUsbBackend(emulator)
    emulator.stop()


def test_opens_the_printer_with_the_right_serial_and_talks(backend: EmulatorUsbBackend) -> None:
    t = UsbTransport("EMUUSB01", backend=backend)
    assert isinstance(t, Transport) and not t.is_open
    t.open()
    t.open()   # already open: nothing happens
    info = t.describe()
    assert info["interface"] == 0 and (info["ep_out"], info["ep_in"]) == ("0x01", "0x82")
    assert info["bus"] == 1 and info["address"] == 5
    t.write(b"\x1bRsn\r")
    assert t.read(2.0) == b"EMUUSB01"
    assert t.read(0.05) == b""   # nothing more to say
    t.close()
    t.close()
    assert not t.is_open


def test_another_serial_number_is_not_our_printer(backend: EmulatorUsbBackend) -> None:
    with pytest.raises(DeviceNotFound, match="'OTHER' among 1 found"):
        UsbTransport("OTHER", backend=backend).open()


def test_an_unreadable_serial_number_hints_at_permissions(backend: EmulatorUsbBackend) -> None:
    def denied(*args: Any) -> int:
        raise usb.core.USBError("Access denied (insufficient permissions)", -3, errno.EACCES)

    backend.ctrl_transfer = denied  # type: ignore[method-assign]
    with pytest.raises(DeviceNotFound, match="udev permissions"):
        UsbTransport("EMUUSB01", backend=backend).open()


def test_an_unplug_is_link_lost_and_a_replug_is_found_again_by_serial(backend: EmulatorUsbBackend) -> None:
    t = UsbTransport("EMUUSB01", backend=backend)
    t.open()
    first = t.describe()["address"]
    backend.unplug()
    with pytest.raises(LinkLost, match="lost"):
        t.read(1.0)
    assert not t.is_open
    with pytest.raises(LinkLost):
        t.write(b"\x1bRsn\r")
    with pytest.raises(DeviceNotFound):
        t.open()
    backend.replug()
    t.open()
    assert t.describe()["address"] != first
    t.write(b"\x1bRsn\r")
    assert t.read(2.0) == b"EMUUSB01"
    t.close()


def test_writes_go_out_in_chunks(backend: EmulatorUsbBackend) -> None:
    t = UsbTransport("EMUUSB01", backend=backend)
    t.open()
    sizes: list[int] = []
    real = backend.bulk_write

    def spy(handle: Any, ep: int, intf: int, data: Any, timeout: int) -> int:
        sizes.append(len(data))
        return real(handle, ep, intf, data, timeout)

    backend.bulk_write = spy  # type: ignore[method-assign]
    t.write(b"\x00" * 200_000)
    assert sizes == [65536, 65536, 65536, 200_000 - 3 * 65536]
    t.close()


def ep(address: int, attributes: int = 2) -> SimpleNamespace:
    return SimpleNamespace(bEndpointAddress=address, bmAttributes=attributes)


class FakeIntf(list):  # type: ignore[type-arg]
    def __init__(self, cls: int, proto: int, eps: list[SimpleNamespace]) -> None:
        super().__init__(eps)
        self.bInterfaceClass, self.bInterfaceProtocol = cls, proto


def test_the_printer_interface_is_chosen_by_class_and_protocol() -> None:
    vendor = FakeIntf(0xFF, 0, [ep(0x01), ep(0x81)])
    unidirectional = FakeIntf(7, 1, [ep(0x02), ep(0x82)])
    bidirectional = FakeIntf(7, 2, [ep(0x03), ep(0x83)])
    interrupt_only = FakeIntf(7, 2, [ep(0x04, 3), ep(0x84, 3)])
    choices = [vendor, unidirectional, bidirectional, interrupt_only]
    assert UsbTransport._printer_interface(choices) is bidirectional
    assert UsbTransport._printer_interface([vendor]) is vendor
    with pytest.raises(DeviceNotFound, match="bulk"):
        UsbTransport._printer_interface([interrupt_only])


def test_a_zero_length_transfer_is_not_silence(tmp_path: Path) -> None:
    # libevolis: "unexpected read of 0 bytes, retrying"; the primacy emulator sends one before each reply
    emulator = EvolisEmulator(tmp_path, serial="EMUUSB02", time_scale=1000.0, dialect="primacy")
    emulator.start()
    try:
        backend = EmulatorUsbBackend(emulator)
        t = UsbTransport("EMUUSB02", backend=backend)
        t.open()
        t.write(b"\x1bRsn\r")
        assert t.read(2.0) == b"EMUUSB02" and t.describe()["zero_length_reads"] == 1
        backend._deliver(b"x")     # a zero-length packet, then a reply
        assert t.read(2.0) == b"x"
        emulator.dialect = "guide"
        backend._deliver(b"")      # only a zero-length packet: read on until the deadline, then nothing
        assert t.read(0.1) == b"" and t.describe()["zero_length_reads"] == 3
        t.close()
    finally:
        emulator.stop()


def test_a_busy_interface_names_what_holds_it(backend: EmulatorUsbBackend) -> None:
    def busy(*args: Any) -> None:
        raise usb.core.USBError("Resource busy", -6, errno.EBUSY)

    backend.claim_interface = busy  # type: ignore[method-assign]
    with pytest.raises(DeviceNotFound, match="Evolis Print Center"):
        UsbTransport("EMUUSB01", backend=backend).open()
