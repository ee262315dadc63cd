"""What on this PC could be a card printer: USB devices, serial ports, CUPS queues; and the config for them.

A printer is named in config by what stays the same across reboots and re-plugging: its USB serial
number, its `/dev/serial/by-id/...` link, or its CUPS queue. Bus addresses and `ttyUSB0`-style names
change when cables move, so they are shown to the technician but never written into a config.
"""
from __future__ import annotations

import os
import re
import stat
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from printd.cards.technology import DEFAULT_NEEDS, Technology

#: USB vendor ids of card-printer makers
CARD_PRINTER_VENDORS: dict[int, str] = {
    0x0F49: "Evolis",
    0x09B0: "HID Fargo",
    0x0A5F: "Zebra",
    0x0A27: "Entrust Datacard",
    0x0C1F: "Magicard",
}
#: words in a by-id name or CUPS make-and-model that point at a card-printer maker
_VENDOR_WORDS = {"evolis": "Evolis", "fargo": "HID Fargo", "zebra": "Zebra", "datacard": "Entrust Datacard",
                 "entrust": "Entrust Datacard", "magicard": "Magicard"}
USB_CLASS_PRINTER = 7
BY_ID_DIR = Path("/dev/serial/by-id")
_NAME_BAD = re.compile(r"[^a-z0-9-]+")
#: udev's by-id names: usb-<maker>_<model>_<serial>-if<NN>[-port<N>]
_BY_ID = re.compile(r"^usb-(?P<model>.+)_(?P<serial>[^_]+)-if\d+(-port\d+)?$")
#: serial ports on the main board (their names are stable, unlike ttyUSB/ttyACM adapters)
_BUILT_IN = re.compile(r"^/dev/ttyS\d+$")


@dataclass
class UsbPrinter:
    """A USB device of a card-printer maker."""

    vendor_id: int
    product_id: int
    vendor: str
    manufacturer: str | None
    product: str | None
    serial: str | None
    printer_class: bool
    bus: int | None
    address: int | None
    note: str | None = None


@dataclass
class SerialPort:
    """A serial port; `by_id` is its stable path when udev made one."""

    device: str
    by_id: str | None
    description: str | None = None
    vendor_id: int | None = None
    product_id: int | None = None
    serial: str | None = None
    vendor: str | None = None     # a card-printer maker, when the ids or the name say so


@dataclass
class CupsQueue:
    """A CUPS queue and the device behind it."""

    name: str
    device_uri: str | None
    make_and_model: str | None
    state: str | None
    info: str | None
    serial: str | None
    vendor: str | None


@dataclass
class Discovery:
    """Everything found, with notes on what could not be looked at."""

    usb: list[UsbPrinter] = field(default_factory=list)
    serial: list[SerialPort] = field(default_factory=list)
    cups: list[CupsQueue] = field(default_factory=list)
    cups_server: str | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _vendor_in(text: str | None) -> str | None:
    low = (text or "").lower()
    return next((v for word, v in _VENDOR_WORDS.items() if word in low), None)


# ---------------------------------------------------------------------------------------------- USB

def _usb_string(dev: Any, index: int) -> str | None:
    import usb.util

    if not index:
        return None
    return usb.util.get_string(dev, index)


def find_usb(backend: Any = None, notes: list[str] | None = None) -> list[UsbPrinter]:
    """USB devices of card-printer makers through pyusb; `backend` is any pyusb backend (None: libusb)."""
    import usb.core
    import usb.util

    notes = notes if notes is not None else []
    try:
        devices = list(usb.core.find(find_all=True, backend=backend,
                                     custom_match=lambda d: d.idVendor in CARD_PRINTER_VENDORS))
    except usb.core.NoBackendError:
        notes.append("USB: no libusb backend (install libusb-1.0-0); USB printers cannot be listed")
        return []
    except (usb.core.USBError, OSError) as exc:
        notes.append(f"USB: cannot list devices: {exc}")
        return []
    found = []
    for dev in devices:
        note = None
        strings: dict[str, str | None] = {}
        for key, index in (("manufacturer", dev.iManufacturer), ("product", dev.iProduct),
                           ("serial", dev.iSerialNumber)):
            try:
                strings[key] = _usb_string(dev, index)
            except (usb.core.USBError, ValueError, NotImplementedError, OSError) as exc:
                strings[key] = None
                note = f"cannot read its strings: {exc}"
        printer_class = dev.bDeviceClass == USB_CLASS_PRINTER
        try:
            printer_class = printer_class or any(intf.bInterfaceClass == USB_CLASS_PRINTER
                                                 for cfg in dev for intf in cfg)
        except (usb.core.USBError, NotImplementedError, OSError):
            pass
        found.append(UsbPrinter(vendor_id=dev.idVendor, product_id=dev.idProduct,
                                vendor=CARD_PRINTER_VENDORS[dev.idVendor],
                                manufacturer=strings["manufacturer"], product=strings["product"],
                                serial=strings["serial"], printer_class=printer_class, bus=dev.bus,
                                address=dev.address, note=note))
        usb.util.dispose_resources(dev)
    return found


# ---------------------------------------------------------------------------------------------- serial

def find_serial(by_id_dir: Path = BY_ID_DIR, notes: list[str] | None = None) -> list[SerialPort]:
    """Serial ports: the stable links under `by_id_dir`, merged with what pyserial lists."""
    notes = notes if notes is not None else []
    ports: dict[str, SerialPort] = {}
    if by_id_dir.is_dir():
        for link in sorted(by_id_dir.iterdir()):
            target = os.path.realpath(link)
            try:
                if not stat.S_ISCHR(os.stat(target).st_mode):
                    continue
            except OSError:
                continue  # a dangling link: the device went away
            ports[target] = SerialPort(device=target, by_id=str(link), vendor=_vendor_in(link.name))
    try:
        from serial.tools import list_ports

        listed = list_ports.comports()
    except Exception as exc:  # noqa: BLE001 - no pyserial or /sys unreadable: the by-id links still count
        notes.append(f"serial: pyserial cannot list ports: {exc}")
        listed = []
    for info in listed:
        device = os.path.realpath(info.device)
        port = ports.setdefault(device, SerialPort(device=device, by_id=None))
        port.description = info.description if info.description not in (None, "n/a") else port.description
        port.vendor_id, port.product_id = info.vid, info.pid
        port.serial = info.serial_number
        port.vendor = port.vendor or (CARD_PRINTER_VENDORS.get(info.vid) if info.vid else None) \
            or _vendor_in(f"{info.manufacturer} {info.product} {info.description}")
    return sorted(ports.values(), key=lambda p: (p.by_id is None, p.by_id or p.device))


# ---------------------------------------------------------------------------------------------- CUPS

def _uri_serial(uri: str | None) -> str | None:
    if not uri:
        return None
    query = parse_qs(urlsplit(uri).query)
    values = query.get("serial") or query.get("SERIAL")
    return unquote(values[0]) if values else None


def find_cups(server: str | None = None, notes: list[str] | None = None) -> list[CupsQueue]:
    """CUPS queues and their device URIs, when a cupsd answers (`server`: host[:port] or socket path)."""
    notes = notes if notes is not None else []
    try:
        import cups
    except ImportError:
        notes.append("CUPS: pycups is not installed (pip install pycups); CUPS queues not listed")
        return []
    try:
        if server:
            cups.setServer(server)
        printers = cups.Connection().getPrinters()
    except (RuntimeError, cups.IPPError) as exc:
        notes.append(f"CUPS: no cupsd answers at {server or cups.getServer()} ({exc})")
        return []
    states = {3: "idle", 4: "processing", 5: "stopped"}
    out = []
    for name, attrs in sorted(printers.items()):
        uri = attrs.get("device-uri")
        model = attrs.get("printer-make-and-model")
        out.append(CupsQueue(name=name, device_uri=uri, make_and_model=model,
                             state=states.get(attrs.get("printer-state"), str(attrs.get("printer-state"))),
                             info=attrs.get("printer-info"), serial=_uri_serial(uri),
                             vendor=_vendor_in(f"{model} {uri}")))
    return out


def discover(*, usb_backend: Any = None, by_id_dir: Path = BY_ID_DIR, cups_server: str | None = None,
             with_cups: bool = True) -> Discovery:
    """Look everywhere a card printer can be."""
    found = Discovery(cups_server=cups_server)
    found.usb = find_usb(usb_backend, found.notes)
    found.serial = find_serial(by_id_dir, found.notes)
    if with_cups:
        found.cups = find_cups(cups_server, found.notes)
    return found


# ---------------------------------------------------------------------------------------------- config

class _Names:
    """Printer names as config wants them (`[a-z0-9][a-z0-9_-]{0,31}`), unique within one snippet."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def __call__(self, *parts: str) -> str:
        base = _NAME_BAD.sub("-", "-".join(p for p in parts if p).lower()).strip("-") or "printer"
        base = base[:32].rstrip("-")
        name, n = base, 2
        while name in self.used:
            suffix = f"-{n}"
            name, n = base[:32 - len(suffix)] + suffix, n + 1
        self.used.add(name)
        return name


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def config_snippet(found: Discovery, card_type: str = "ktp-el") -> str:
    """A TOML snippet with a `[printers.NAME]` table per printer found; doubtful ones commented out."""
    names = _Names()
    # an Evolis prints direct-to-card (technology "direct"): KIA, unless the card type asked for is one too
    evolis_type = card_type if DEFAULT_NEEDS.get(card_type) == Technology.DIRECT else "kia"
    blocks: list[list[str]] = []
    for dev in found.usb:
        what = " ".join(x for x in (dev.vendor, dev.product) if x)
        if dev.vendor == "Evolis" and dev.serial:
            name = names("evolis", dev.serial)
            blocks.append([f"# {what} on USB, serial number {dev.serial}",
                           f"[printers.{name}]", 'driver = "evolis"', 'transport = "usb"',
                           f"serial_number = {_toml_str(dev.serial)}", f'card_type = "{evolis_type}"'])
        elif dev.vendor == "Evolis":
            blocks.append([f"# {what} on USB: {dev.note or 'it reports no serial number'}.",
                           "# printd names USB printers by serial number only: run discover as root",
                           "# or install the udev rules (config/60-printd-card-printers.rules), then",
                           "# discover again."])
        else:
            serial = f", serial number {dev.serial}" if dev.serial else ""
            blocks.append([f"# {what} on USB{serial}: printd talks to this maker through CUPS.",
                           "# Make a queue for it (lpadmin -p NAME -E -v 'usb://...' with the vendor's PPD;",
                           "# `lpinfo -v` shows the URI), then discover again: the queue appears below as a",
                           "# driver = \"cups\" printer."])
    for port in found.serial:
        label = port.description or port.vendor or "serial device"
        if not port.by_id and _BUILT_IN.match(port.device):
            # a port on the main board keeps its name; USB adapters (ttyUSB, ttyACM) do not
            table = [f"[printers.{names('com', Path(port.device).name)}]", 'driver = "evolis"',
                     'transport = "serial"', f"port = {_toml_str(port.device)}", f'card_type = "{evolis_type}"']
            blocks.append([f"# built-in serial port {port.device}; if an Evolis printer is on it, uncomment:"]
                          + ["# " + line for line in table])
            continue
        if not port.by_id:
            blocks.append([f"# {label}: no stable name under /dev/serial/by-id, so no config is written",
                           "# for it (its kernel name can change at the next boot); install the udev rules",
                           "# and discover again."])
            continue
        m = _BY_ID.match(Path(port.by_id).name)
        ident = port.serial or (m["serial"] if m else Path(port.by_id).name)
        name = names("evolis" if port.vendor == "Evolis" else "serial", ident)
        table = [f"[printers.{name}]", 'driver = "evolis"', 'transport = "serial"',
                 f"port = {_toml_str(port.by_id)}", f'card_type = "{evolis_type}"']
        if port.vendor == "Evolis":
            blocks.append([f"# {label} on serial port {port.by_id}", *table])
        else:
            maker = f"a {port.vendor} device" if port.vendor else "an unknown device"
            blocks.append([(f"# {label} on serial port {port.by_id} ({maker}); if an Evolis printer is on it, "
                            "uncomment:"), *("# " + line for line in table)])
    for q in found.cups:
        behind = f" -> {q.device_uri}" if q.device_uri else ""
        model = f" ({q.make_and_model})" if q.make_and_model else ""
        table = [f"# CUPS queue {q.name}{behind}{model}", f"[printers.{names(q.name)}]", 'driver = "cups"',
                 f"queue = {_toml_str(q.name)}", f'card_type = "{card_type}"']
        if found.cups_server:
            table.append(f"cups_server = {_toml_str(found.cups_server)}")
        blocks.append(table)
    if not blocks:
        return "# printd discover found no card printer on this PC.\n"
    head = ["# printd discover: printers found on this PC. Paste into the config",
            "# (e.g. /etc/printd/printd.toml), check card_type, and restart printd."]
    return "\n".join(head + [""] + ["\n".join(b) + "\n" for b in blocks]).rstrip() + "\n"
