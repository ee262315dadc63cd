"""Byte links to a printer: the small seam under a protocol driver.

A `Transport` moves bytes and nothing else; it knows no printer language. `usb.py` speaks pyusb
(bulk endpoints of a USB printer-class interface, device chosen by serial number), `serial.py`
speaks pyserial. Errors are reported as the three exceptions below so a driver can tell "the
printer is not there" from "the link broke" from "a write did not go through in time".
"""
from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


class TransportError(OSError):
    """Base of transport failures."""


class DeviceNotFound(TransportError):
    """No matching device is connected (unplugged, powered off, wrong serial number or port)."""


class LinkLost(TransportError):
    """The device went away or the link failed during I/O; `open()` again to reconnect."""


class TransportTimeout(TransportError):
    """A write could not be delivered in time (the device stopped taking data)."""


@runtime_checkable
class Transport(Protocol):
    """A bidirectional byte link to one printer."""

    #: True when each `read` returns one whole reply (a USB bulk transfer ends with a short
    #: packet); False for byte streams where a reply ends at a terminator or a silence (a
    #: byte-stream transport may then set `reply_gap_s`, the silence that ends a reply)
    packetized: bool

    def open(self) -> None:
        """Connect, or reconnect after `LinkLost`; a no-op when already open. Raises DeviceNotFound."""
        ...

    def write(self, data: bytes) -> None:
        """Send all of `data`. Raises LinkLost or TransportTimeout."""
        ...

    def read(self, timeout: float) -> bytes:
        """Wait up to `timeout` seconds for bytes; return what arrived (b"" when nothing did)."""
        ...

    def close(self) -> None:
        """Release the device; safe to call twice."""
        ...

    @property
    def is_open(self) -> bool:
        """True while the link is usable."""
        ...

    def describe(self) -> dict[str, Any]:
        """Link details for diagnostics (bus and address, port path, baud rate...)."""
        ...
