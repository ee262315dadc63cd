"""A small pyusb backend (`usb.backend.IBackend`) with made-up devices, for discovery tests.

pyusb reads everything through its backend, so `usb.core.find(backend=FakeBackend(...))` walks the
real pyusb code path: device descriptors, configurations, interfaces, and string descriptors
fetched with GET_DESCRIPTOR control transfers (language ids first, then UTF-16LE strings).
"""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import usb.backend
import usb.core

GET_DESCRIPTOR = 0x06
DESC_STRING = 0x03
LANG_EN_US = 0x0409


@dataclass
class FakeDevice:
    """One USB device: ids, strings (index 1 manufacturer, 2 product, 3 serial), one interface."""

    vendor_id: int
    product_id: int
    manufacturer: str
    product: str
    serial: str | None
    bus: int = 1
    address: int = 4
    interface_class: int = 7          # USB printer class
    strings_denied: bool = False      # as libusb answers without permission on the device node


def _desc(**fields: Any) -> SimpleNamespace:
    return SimpleNamespace(extra_descriptors=[], **fields)


class FakeBackend(usb.backend.IBackend):
    """Serves the given devices to pyusb."""

    def __init__(self, devices: list[FakeDevice]) -> None:
        self.devices = devices
        self.opened: list[FakeDevice] = []

    def enumerate_devices(self) -> Any:
        return iter(self.devices)

    def get_device_descriptor(self, dev: FakeDevice) -> SimpleNamespace:
        return _desc(bLength=18, bDescriptorType=1, bcdUSB=0x0200, bDeviceClass=0, bDeviceSubClass=0,
                     bDeviceProtocol=0, bMaxPacketSize0=64, idVendor=dev.vendor_id, idProduct=dev.product_id,
                     bcdDevice=0x0100, iManufacturer=1, iProduct=2, iSerialNumber=3 if dev.serial else 0,
                     bNumConfigurations=1, address=dev.address, bus=dev.bus, port_number=2, port_numbers=(2,),
                     speed=3)

    def get_configuration_descriptor(self, dev: FakeDevice, config: int) -> SimpleNamespace:
        if config != 0:
            raise IndexError(config)
        return _desc(bLength=9, bDescriptorType=2, wTotalLength=32, bNumInterfaces=1, bConfigurationValue=1,
                     iConfiguration=0, bmAttributes=0xC0, bMaxPower=50)

    def get_interface_descriptor(self, dev: FakeDevice, intf: int, alt: int, config: int) -> SimpleNamespace:
        if intf != 0 or alt != 0:
            raise IndexError((intf, alt))
        return _desc(bLength=9, bDescriptorType=4, bInterfaceNumber=0, bAlternateSetting=0, bNumEndpoints=2,
                     bInterfaceClass=dev.interface_class, bInterfaceSubClass=1, bInterfaceProtocol=2,
                     iInterface=0)

    def get_endpoint_descriptor(self, dev: FakeDevice, ep: int, intf: int, alt: int,
                                config: int) -> SimpleNamespace:
        if ep > 1:
            raise IndexError(ep)
        return _desc(bLength=7, bDescriptorType=5, bEndpointAddress=(0x81 if ep else 0x02), bmAttributes=2,
                     wMaxPacketSize=64, bInterval=0, bRefresh=0, bSynchAddress=0)

    def open_device(self, dev: FakeDevice) -> FakeDevice:
        self.opened.append(dev)
        return dev

    def close_device(self, dev_handle: FakeDevice) -> None:
        pass

    def ctrl_transfer(self, dev_handle: FakeDevice, bmRequestType: int, bRequest: int, wValue: int,
                      wIndex: int, data: Any, timeout: int) -> int:
        if bRequest != GET_DESCRIPTOR or (wValue >> 8) != DESC_STRING:
            raise usb.core.USBError("request not supported by the fake", errno=32)
        if dev_handle.strings_denied:
            raise usb.core.USBError("Access denied (insufficient permissions)", errno=13)
        index = wValue & 0xFF
        if index == 0:
            payload = LANG_EN_US.to_bytes(2, "little")
        else:
            text = {1: dev_handle.manufacturer, 2: dev_handle.product, 3: dev_handle.serial}[index] or ""
            payload = text.encode("utf-16-le")
        desc = bytes([2 + len(payload), DESC_STRING]) + payload
        n = min(len(data), len(desc))
        for i in range(n):   # pyusb hands an array to fill and wants the count back
            data[i] = desc[i]
        return n


#: what `printd discover --usb-backend tests.fake_usb:station_backend` finds
STATION_DEVICES = [
    FakeDevice(0x0F49, 0x1001, "Evolis", "Primacy 2", "PRI2-0042117", bus=1, address=7),
    FakeDevice(0x09B0, 0xBE01, "HID Global", "DTC4500e", "C4500-77812", bus=1, address=9),
    FakeDevice(0x046D, 0xC52B, "Logitech", "USB Receiver", "LGT-1", bus=1, address=3, interface_class=3),
    FakeDevice(0x0F49, 0x1011, "Evolis", "Zenius", "ZEN-9", bus=2, address=5, strings_denied=True),
]


def station_backend() -> FakeBackend:
    """A PC with an Evolis, a Fargo, a mouse receiver and an Evolis whose strings are unreadable."""
    return FakeBackend(list(STATION_DEVICES))
