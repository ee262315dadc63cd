"""USB link with pyusb: the printer-class interface's bulk endpoints, device chosen by serial number.

Bus addresses change on every replug and with the port used, so the device is found by vendor
id and `iSerialNumber` each time the link is (re)opened. The endpoints are looked up in the
descriptors at run time (printer class 7, bidirectional protocol 2 preferred) rather than
hard-coded, and a kernel `usblp` driver holding the interface is detached first.
"""
from __future__ import annotations

import errno
import time
from typing import Any

import usb.core
import usb.util

from printd.drivers.transport import DeviceNotFound, LinkLost, TransportTimeout

#: Evolis' USB vendor id
EVOLIS_VENDOR_ID = 0x0F49
PRINTER_CLASS = 7
#: 1284 bidirectional printer interface protocol
PRINTER_BIDIRECTIONAL = 2
_CHUNK = 64 * 1024
_READ_SIZE = 4096


def _bulk(ep: Any, direction: int) -> bool:
    return bool(usb.util.endpoint_type(ep.bmAttributes) == usb.util.ENDPOINT_TYPE_BULK
                and usb.util.endpoint_direction(ep.bEndpointAddress) == direction)


def _timeout_ms(seconds: float) -> int:
    # pyusb reads 0 as "wait forever": never pass it
    return max(1, int(seconds * 1000))


class UsbTransport:
    """A `Transport` over the bulk endpoints of the USB printer with a given serial number."""

    packetized = True

    def __init__(self, serial_number: str, *, vendor_id: int = EVOLIS_VENDOR_ID, backend: Any = None,
                 write_timeout_s: float = 5.0) -> None:
        self.serial_number = serial_number
        self.vendor_id = vendor_id
        self.write_timeout_s = write_timeout_s
        self._backend = backend
        self._dev: Any = None
        self._intf: Any = None
        self._ep_out: Any = None
        self._ep_in: Any = None
        #: zero-length transfers read so far (for diagnostics)
        self.zero_length_reads = 0

    @property
    def is_open(self) -> bool:
        return self._dev is not None

    # ------------------------------------------------------------------ finding the device

    def _find(self) -> Any:
        try:
            candidates = list(usb.core.find(find_all=True, idVendor=self.vendor_id, backend=self._backend))
        except usb.core.NoBackendError as exc:
            raise DeviceNotFound(f"no USB backend (is libusb installed?): {exc}") from exc
        unreadable = 0
        for dev in candidates:
            try:
                serial = usb.util.get_string(dev, dev.iSerialNumber) if dev.iSerialNumber else None
            except (usb.core.USBError, ValueError, NotImplementedError):
                unreadable += 1   # typically no permission: say so below rather than guess
                continue
            finally:
                usb.util.dispose_resources(dev)
            if serial is not None and serial.strip() == self.serial_number:
                return dev
        hint = (f" ({unreadable} device(s) whose serial could not be read: check udev permissions)"
                if unreadable else "")
        raise DeviceNotFound(f"no USB printer {self.vendor_id:04x}:* with serial {self.serial_number!r}"
                             f" among {len(candidates)} found{hint}")

    @staticmethod
    def _printer_interface(cfg: Any) -> Any:
        best = None
        for intf in cfg:
            eps = list(intf)
            has_out = any(_bulk(e, usb.util.ENDPOINT_OUT) for e in eps)
            if not (has_out and any(_bulk(e, usb.util.ENDPOINT_IN) for e in eps)):
                continue
            score = ((intf.bInterfaceClass == PRINTER_CLASS) * 2
                     + (intf.bInterfaceProtocol == PRINTER_BIDIRECTIONAL))
            if best is None or score > best[0]:
                best = (score, intf)
        if best is None:
            raise DeviceNotFound("the device has no interface with bulk IN and OUT endpoints")
        return best[1]

    def open(self) -> None:
        """Find the printer by serial number, claim its printer interface, find its endpoints."""
        if self._dev is not None:
            return
        dev = self._find()
        try:
            try:
                cfg = dev.get_active_configuration()
            except usb.core.USBError:
                dev.set_configuration()
                cfg = dev.get_active_configuration()
            intf = self._printer_interface(cfg)
            number = intf.bInterfaceNumber
            try:
                if dev.is_kernel_driver_active(number):
                    dev.detach_kernel_driver(number)
            except (NotImplementedError, usb.core.USBError):
                pass   # not every platform/backend has kernel drivers to detach
            usb.util.claim_interface(dev, number)
            if intf.bAlternateSetting:
                dev.set_interface_altsetting(interface=number, alternate_setting=intf.bAlternateSetting)
            self._ep_out = usb.util.find_descriptor(
                intf, custom_match=lambda e: _bulk(e, usb.util.ENDPOINT_OUT))
            self._ep_in = usb.util.find_descriptor(
                intf, custom_match=lambda e: _bulk(e, usb.util.ENDPOINT_IN))
        except usb.core.USBError as exc:
            usb.util.dispose_resources(dev)
            busy = (" (busy: another program holds it, e.g. the Evolis Print Center service or a CUPS "
                    "usb backend; stop it)" if exc.errno == errno.EBUSY else "")
            raise DeviceNotFound(
                f"USB printer {self.serial_number!r} found but cannot be opened{busy}: {exc}") from exc
        self._dev, self._intf = dev, intf

    # ------------------------------------------------------------------ I/O

    def _lost(self, exc: usb.core.USBError) -> LinkLost:
        self.close()
        gone = exc.errno in (errno.ENODEV, errno.EIO, errno.EPIPE)
        return LinkLost(f"USB link to {self.serial_number!r} {'lost' if gone else 'failed'}: {exc}")

    def write(self, data: bytes) -> None:
        """Send `data` in bulk transfers of at most 64 KiB."""
        if self._dev is None:
            raise LinkLost("USB link is not open")
        view = memoryview(data)
        while view:
            chunk = view[:_CHUNK]
            try:
                sent = self._ep_out.write(chunk, timeout=_timeout_ms(self.write_timeout_s))
            except usb.core.USBTimeoutError as exc:
                raise TransportTimeout(f"USB write timed out after {self.write_timeout_s:.1f} s") from exc
            except usb.core.USBError as exc:
                raise self._lost(exc) from exc
            view = view[sent:]

    def read(self, timeout: float) -> bytes:
        """One bulk IN transfer: one reply, or b"" when the printer said nothing in `timeout` s.

        A zero-length transfer is not silence: some Evolis firmware sends one before a reply
        (libevolis logs "unexpected read of 0 bytes, retrying"), so reading goes on until the deadline.
        """
        if self._dev is None:
            raise LinkLost("USB link is not open")
        deadline = time.monotonic() + timeout
        remaining = timeout
        while True:
            try:
                data = bytes(self._ep_in.read(_READ_SIZE, timeout=_timeout_ms(remaining)))
            except usb.core.USBTimeoutError:
                return b""
            except usb.core.USBError as exc:
                raise self._lost(exc) from exc
            if data:
                return data
            self.zero_length_reads += 1
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return b""

    def close(self) -> None:
        dev, self._dev = self._dev, None
        if dev is None:
            return
        try:
            usb.util.release_interface(dev, self._intf.bInterfaceNumber)
        except (usb.core.USBError, ValueError):
            pass   # a vanished device cannot release anything; disposing is enough
        try:
            usb.util.dispose_resources(dev)
        except usb.core.USBError:
            pass

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"transport": "usb", "serial_number": self.serial_number,
                                "vendor_id": f"0x{self.vendor_id:04x}", "open": self.is_open,
                                "zero_length_reads": self.zero_length_reads}
        if self._dev is not None:
            info.update(product_id=f"0x{self._dev.idProduct:04x}", bus=self._dev.bus,
                        address=self._dev.address, port_numbers=getattr(self._dev, "port_numbers", None),
                        interface=self._intf.bInterfaceNumber,
                        ep_out=f"0x{self._ep_out.bEndpointAddress:02x}",
                        ep_in=f"0x{self._ep_in.bEndpointAddress:02x}")
        return info
