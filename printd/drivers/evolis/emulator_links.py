"""Cables for the emulator: a fake pyusb backend and a pty pair, so the real link code runs.

`EmulatorUsbBackend` is a `usb.backend.IBackend` passed to `usb.core.find(backend=...)`: pyusb
enumerates it, reads its descriptors (one configuration, one printer-class interface 7/1/2 with
a bulk OUT and a bulk IN endpoint), its string descriptors (the serial number) and moves bulk
transfers to and from the emulator. `unplug()` / `replug()` (and the emulator's `offline`
fault) make the device vanish and come back at a new bus address, as a real replug does. In the
`primacy` dialect every reply is preceded by a zero-length bulk transfer, as libevolis expects
("unexpected read of 0 bytes, retrying"), so the host must not take an empty read for silence.

`PtyServer` puts the emulator behind a real tty (os.openpty, raw mode) that pyserial opens by
path.
"""
from __future__ import annotations

import array
import errno
import os
import select
import threading
import time
import tty
from collections import deque
from typing import Any

import usb.backend
import usb.core

from printd.drivers.evolis.emulator import EvolisEmulator
from printd.drivers.transport.usb import EVOLIS_VENDOR_ID

PRODUCT_ID = 0x0001   # not a real Evolis product id: an emulator must not pass for a given model
EP_OUT, EP_IN = 0x01, 0x82
MAX_PACKET = 64
_STRINGS = {1: "Evolis", 2: "printd Evolis emulator"}   # 3 is the serial number
_LANGID_EN_US = 0x0409


def _fill(buff: Any, payload: bytes) -> int:
    """Copy into the array.array pyusb handed us (backends fill it in place) and return the count."""
    n = min(len(buff), len(payload))
    buff[:n] = array.array("B", payload[:n])
    return n


class _Desc:
    """A descriptor: pyusb reads its fields as attributes."""

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


class _DeviceId:
    def __init__(self, generation: tuple[int, int]) -> None:
        self.generation = generation


class _Handle:
    def __init__(self, generation: tuple[int, int]) -> None:
        self.generation = generation


class EmulatorUsbBackend(usb.backend.IBackend):
    """A pyusb backend with one device on it: the emulator, as a USB printer."""

    def __init__(self, emulator: EvolisEmulator, *, bus: int = 1, first_address: int = 5) -> None:
        super().__init__()
        self.emulator = emulator
        self.bus = bus
        self.first_address = first_address
        self._plugged = True
        self._plugs = 0
        self._config_value = 0
        self._lock = threading.Condition()
        self._outbox: deque[bytes] = deque()
        emulator.set_sink(self._deliver)

    # ------------------------------------------------------------------ the cable

    @property
    def generation(self) -> tuple[int, int]:
        """Changes whenever the device disappears; handles from an older generation are dead."""
        return (self._plugs, self.emulator.link_epoch)

    @property
    def present(self) -> bool:
        return self._plugged and self.emulator.link_up

    @property
    def address(self) -> int:
        return self.first_address + sum(self.generation)

    def unplug(self) -> None:
        """Pull the cable: the device disappears and every open handle fails with ENODEV."""
        with self._lock:
            self._plugged = False
            self._plugs += 1
            self._outbox.clear()

    def replug(self) -> None:
        """Plug it back in: it enumerates again, at a new address, unconfigured."""
        with self._lock:
            self._plugged = True
            self._config_value = 0
            self._outbox.clear()

    def _deliver(self, reply: bytes) -> None:
        with self._lock:
            if self.present:
                if self.emulator.dialect == "primacy":
                    self._outbox.append(b"")   # a zero-length packet first
                self._outbox.append(reply)
                self._lock.notify_all()

    def _check(self, handle: _Handle) -> None:
        if not self.present or handle.generation != self.generation:
            raise usb.core.USBError("No such device (it may have been disconnected)", -4, errno.ENODEV)

    # ------------------------------------------------------------------ enumeration and descriptors

    def enumerate_devices(self) -> Any:
        if self.present:
            yield _DeviceId(self.generation)

    def get_parent(self, dev: Any) -> None:
        return None

    def get_device_descriptor(self, dev: _DeviceId) -> _Desc:
        return _Desc(bLength=18, bDescriptorType=1, bcdUSB=0x0200, bDeviceClass=0, bDeviceSubClass=0,
                     bDeviceProtocol=0, bMaxPacketSize0=MAX_PACKET, idVendor=EVOLIS_VENDOR_ID,
                     idProduct=PRODUCT_ID, bcdDevice=0x0100, iManufacturer=1, iProduct=2, iSerialNumber=3,
                     bNumConfigurations=1, bus=self.bus, address=self.first_address + sum(dev.generation),
                     port_number=1, port_numbers=(1,), speed=2)   # full speed, as these printers enumerate

    def get_configuration_descriptor(self, dev: Any, config: int) -> _Desc:
        if config != 0:
            raise IndexError(config)
        return _Desc(bLength=9, bDescriptorType=2, wTotalLength=32, bNumInterfaces=1, bConfigurationValue=1,
                     iConfiguration=0, bmAttributes=0xC0, bMaxPower=1, extra_descriptors=[])

    def get_interface_descriptor(self, dev: Any, intf: int, alt: int, config: int) -> _Desc:
        if (intf, alt, config) != (0, 0, 0):
            raise IndexError((intf, alt, config))
        return _Desc(bLength=9, bDescriptorType=4, bInterfaceNumber=0, bAlternateSetting=0, bNumEndpoints=2,
                     bInterfaceClass=7, bInterfaceSubClass=1, bInterfaceProtocol=2, iInterface=0,
                     extra_descriptors=[])

    def get_endpoint_descriptor(self, dev: Any, ep: int, intf: int, alt: int, config: int) -> _Desc:
        if ep not in (0, 1) or (intf, alt, config) != (0, 0, 0):
            raise IndexError((ep, intf, alt, config))
        return _Desc(bLength=7, bDescriptorType=5, bEndpointAddress=(EP_OUT, EP_IN)[ep], bmAttributes=0x02,
                     wMaxPacketSize=MAX_PACKET, bInterval=0, bRefresh=0, bSynchAddress=0,
                     extra_descriptors=[])

    # ------------------------------------------------------------------ handles

    def open_device(self, dev: _DeviceId) -> _Handle:
        handle = _Handle(dev.generation)
        self._check(handle)
        return handle

    def close_device(self, dev_handle: _Handle) -> None:
        pass

    def set_configuration(self, dev_handle: _Handle, config_value: int) -> None:
        self._check(dev_handle)
        self._config_value = config_value

    def get_configuration(self, dev_handle: _Handle) -> int:
        self._check(dev_handle)
        return self._config_value

    def set_interface_altsetting(self, dev_handle: _Handle, intf: int, altsetting: int) -> None:
        self._check(dev_handle)

    def claim_interface(self, dev_handle: _Handle, intf: int) -> None:
        self._check(dev_handle)

    def release_interface(self, dev_handle: _Handle, intf: int) -> None:
        self._check(dev_handle)

    def is_kernel_driver_active(self, dev_handle: _Handle, intf: int) -> bool:
        return False

    def detach_kernel_driver(self, dev_handle: _Handle, intf: int) -> None:
        pass

    def clear_halt(self, dev_handle: _Handle, ep: int) -> None:
        self._check(dev_handle)

    # ------------------------------------------------------------------ transfers

    def ctrl_transfer(self, dev_handle: _Handle, bmRequestType: int, bRequest: int, wValue: int, wIndex: int,
                      data: Any, timeout: int) -> int:
        self._check(dev_handle)
        if bmRequestType != 0x80 or bRequest != 6 or wValue >> 8 != 3:   # only GET_DESCRIPTOR(string)
            raise usb.core.USBError("Pipe error", -9, errno.EPIPE)
        index = wValue & 0xFF
        if index == 0:
            payload = _LANGID_EN_US.to_bytes(2, "little")
        else:
            text = self.emulator.serial if index == 3 else _STRINGS.get(index)
            if text is None:
                raise usb.core.USBError("Pipe error", -9, errno.EPIPE)
            payload = text.encode("utf-16-le")
        blob = bytes([2 + len(payload), 3]) + payload
        return _fill(data, blob)

    def bulk_write(self, dev_handle: _Handle, ep: int, intf: int, data: Any, timeout: int) -> int:
        self._check(dev_handle)
        if ep != EP_OUT:
            raise usb.core.USBError("Pipe error", -9, errno.EPIPE)
        payload = bytes(data)
        self.emulator.receive(payload)
        return len(payload)

    def bulk_read(self, dev_handle: _Handle, ep: int, intf: int, buff: Any, timeout: int) -> int:
        """One transfer = one reply (it ends with a short packet); pyusb's array is filled in place."""
        self._check(dev_handle)
        if ep != EP_IN:
            raise usb.core.USBError("Pipe error", -9, errno.EPIPE)
        deadline = time.monotonic() + (timeout / 1000 if timeout else 3600.0)
        with self._lock:
            while not self._outbox:
                self._check(dev_handle)   # a pulled cable ends the wait at once, as with libusb
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise usb.core.USBTimeoutError("Operation timed out", -7, errno.ETIMEDOUT)
                self._lock.wait(min(remaining, 0.05))
            self._check(dev_handle)
            reply = self._outbox.popleft()
            if not reply:
                return 0
            if len(reply) > len(buff):
                self._outbox.appendleft(reply[len(buff):])
                reply = reply[:len(buff)]
        return _fill(buff, reply)


class PtyServer:
    """The emulator behind a pty pair; `port` is the path pyserial opens."""

    def __init__(self, emulator: EvolisEmulator) -> None:
        self.emulator = emulator
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)   # no echo, no line discipline: bytes as they are
        self.port = os.ttyname(self._slave)
        self._out: deque[bytes] = deque()
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        self._stop = False
        emulator.set_sink(self._queue)
        self._thread = threading.Thread(target=self._run, name=f"evolis-pty-{emulator.serial}", daemon=True)
        self._thread.start()

    def _queue(self, reply: bytes) -> None:
        with self._lock:
            self._out.append(reply)
        os.write(self._wake_w, b"x")

    def _run(self) -> None:
        while not self._stop:
            with self._lock:
                pending = bool(self._out)
            outputs = [self._master] if pending else []
            readable, writable, _ = select.select([self._master, self._wake_r], outputs, [], 0.5)
            if self._wake_r in readable:
                os.read(self._wake_r, 4096)
            if self._master in readable:
                try:
                    data = os.read(self._master, 65536)
                except OSError:
                    continue
                if data:
                    self.emulator.receive(data)
            if self._master in writable:
                with self._lock:
                    chunk = self._out.popleft() if self._out else b""
                if chunk:
                    written = os.write(self._master, chunk)
                    if written < len(chunk):
                        with self._lock:
                            self._out.appendleft(chunk[written:])

    def close(self) -> None:
        self._stop = True
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=5)
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
