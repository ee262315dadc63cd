"""Serial link with pyserial: port by path (use /dev/serial/by-id/... so it survives replugs).

Baud rate and flow control come from the printer's config and must match what the printer was
set to with `Pcom` (8 data bits, no parity, 1 stop bit, as in the guide's examples). A serial
line is a byte stream, so `packetized` is False: the protocol layer frames replies itself.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import serial

from printd.drivers.transport import DeviceNotFound, LinkLost, TransportTimeout

FLOW_CONTROLS = ("none", "rtscts", "xonxoff")


class SerialTransport:
    """A `Transport` over a serial port."""

    packetized = False

    def __init__(self, port: str, *, baudrate: int = 115200, flow_control: str = "none",
                 write_timeout_s: float = 5.0, factory: Callable[..., Any] = serial.Serial) -> None:
        if flow_control not in FLOW_CONTROLS:
            raise ValueError(f"flow_control must be one of {FLOW_CONTROLS}, not {flow_control!r}")
        self.port = port
        self.baudrate = baudrate
        self.flow_control = flow_control
        self.write_timeout_s = write_timeout_s
        self._factory = factory
        self._ser: Any = None
        #: silence that ends a reply with no terminator: 30 character times, at least 10 ms
        self.reply_gap_s = max(0.01, 30 * 10 / baudrate)

    @property
    def is_open(self) -> bool:
        return self._ser is not None

    def open(self) -> None:
        if self._ser is not None:
            return
        try:
            self._ser = self._factory(
                port=self.port, baudrate=self.baudrate, bytesize=serial.EIGHTBITS, parity=serial.PARITY_NONE,
                stopbits=serial.STOPBITS_ONE, rtscts=self.flow_control == "rtscts",
                xonxoff=self.flow_control == "xonxoff", timeout=0, write_timeout=self.write_timeout_s)
        except (serial.SerialException, OSError) as exc:
            raise DeviceNotFound(f"cannot open serial port {self.port}: {exc}") from exc

    def _lost(self, exc: BaseException) -> LinkLost:
        self.close()
        return LinkLost(f"serial link {self.port} failed: {exc}")

    def write(self, data: bytes) -> None:
        if self._ser is None:
            raise LinkLost("serial port is not open")
        try:
            self._ser.write(data)
            self._ser.flush()
        except serial.SerialTimeoutException as exc:
            raise TransportTimeout(f"serial write timed out after {self.write_timeout_s:.1f} s") from exc
        except (serial.SerialException, OSError) as exc:
            raise self._lost(exc) from exc

    def read(self, timeout: float) -> bytes:
        """Wait up to `timeout` s for a first byte, then take everything already received."""
        if self._ser is None:
            raise LinkLost("serial port is not open")
        try:
            self._ser.timeout = max(0.0, timeout)
            first: bytes = self._ser.read(1)
            if not first:
                return b""
            waiting = self._ser.in_waiting
            return first + (bytes(self._ser.read(waiting)) if waiting else b"")
        except (serial.SerialException, OSError) as exc:
            raise self._lost(exc) from exc

    def close(self) -> None:
        ser, self._ser = self._ser, None
        if ser is not None:
            try:
                ser.close()
            except (serial.SerialException, OSError):
                pass

    def describe(self) -> dict[str, Any]:
        return {"transport": "serial", "port": self.port, "baudrate": self.baudrate,
                "flow_control": self.flow_control, "open": self.is_open}
