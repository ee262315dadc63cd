"""Ask a printer directly (not through CUPS) whether it is there, what it says about itself, and
what became of a job (its own job records).

While a card is in flight CUPS shows a job as `processing` even when the printer has vanished, and
marks it completed when the printer comes back without it. The printer's own answer is the evidence
that cannot lie that way. For `ipp://`, `ipps://`, `http://` and `https://` device URIs this sends one
IPP Get-Printer-Attributes request (RFC 8010 encoding, written here so the probe needs no libcups
call that could hang); for `socket://` and `lpd://` it tries a TCP connection; other schemes (`usb://`,
vendor backends) cannot be probed and give `None`.
"""
from __future__ import annotations

import http.client
import itertools
import socket
import ssl
import struct
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

IPP_SCHEMES = {"ipp": 631, "ipps": 631, "http": 631, "https": 631}
TCP_SCHEMES = {"socket": 9100, "lpd": 515}
GET_PRINTER_ATTRIBUTES = 0x000B
GET_JOBS = 0x000A
JOB_REQUESTED = ("job-id", "job-name", "job-state", "job-state-reasons", "job-state-message",
                 "job-impressions-completed")
REQUESTED = (
    "printer-state", "printer-state-reasons", "printer-state-message", "printer-up-time",
    "printer-make-and-model", "printer-firmware-string-version", "printer-device-id", "printer-uuid",
    "printer-is-accepting-jobs", "marker-names", "marker-levels", "marker-types", "marker-colors",
)
_request_ids = itertools.count(1)


@dataclass(frozen=True)
class ProbeResult:
    """One look at the device: reachable or not, and what an IPP printer said."""

    reachable: bool
    at: float                                   # time.time() of the answer
    error: str | None = None
    attrs: dict[str, list[Any]] = field(default_factory=dict)   # IPP only; every value a list

    def first(self, name: str, default: Any = None) -> Any:
        values = self.attrs.get(name)
        return values[0] if values else default

    @property
    def booted_at(self) -> float | None:
        """When the printer started, from its printer-up-time (seconds since start); None if unknown."""
        up = self.first("printer-up-time")
        if not isinstance(up, int) or up < 0 or up > 10 * 365 * 86400:
            return None          # some printers put the epoch here: no restart detection for them
        return self.at - up


def probeable(device_uri: str) -> bool:
    """True when `probe` can say something about this device URI."""
    return urlsplit(device_uri).scheme.lower() in IPP_SCHEMES | TCP_SCHEMES


def probe(device_uri: str, timeout: float) -> ProbeResult | None:
    """Probe the device behind a CUPS queue; None when the URI's scheme cannot be probed."""
    parts = urlsplit(device_uri)
    scheme = parts.scheme.lower()
    host = parts.hostname
    if not host or scheme not in IPP_SCHEMES | TCP_SCHEMES:
        return None
    port = parts.port or (IPP_SCHEMES | TCP_SCHEMES)[scheme]
    try:
        if scheme in TCP_SCHEMES:
            with socket.create_connection((host, port), timeout=timeout):
                return ProbeResult(True, time.time())
        attrs = get_printer_attributes(scheme, host, port, parts.path or "/ipp/print", device_uri, timeout)
        return ProbeResult(True, time.time(), attrs=attrs)
    except (OSError, http.client.HTTPException, ValueError, struct.error) as exc:
        return ProbeResult(False, time.time(), error=f"{type(exc).__name__}: {exc}")


def get_printer_attributes(scheme: str, host: str, port: int, path: str, uri: str,
                           timeout: float) -> dict[str, list[Any]]:
    """Send Get-Printer-Attributes to the printer and return its printer attributes."""
    _, groups = _ipp_call(scheme, host, port, path, uri, timeout,
                          encode_request(GET_PRINTER_ATTRIBUTES, uri, REQUESTED))
    merged: dict[str, list[Any]] = {}
    for _tag, attrs in groups:
        merged.update(attrs)
    return merged


def printer_jobs(device_uri: str, timeout: float, which: str = "completed") -> list[dict[str, Any]] | None:
    """The printer's own job records (Get-Jobs), one dict per job with single values; None if not IPP.

    Raises OSError / http.client.HTTPException / ValueError when the printer does not answer properly.
    """
    parts = urlsplit(device_uri)
    scheme = parts.scheme.lower()
    if scheme not in IPP_SCHEMES or not parts.hostname:
        return None
    body = encode_request(GET_JOBS, device_uri, JOB_REQUESTED, which_jobs=which)
    _, groups = _ipp_call(scheme, parts.hostname, parts.port or IPP_SCHEMES[scheme],
                          parts.path or "/ipp/print", device_uri, timeout, body)
    jobs = [attrs for tag, attrs in groups if tag == 0x02]     # job-attributes groups
    return [{k: (v[0] if len(v) == 1 else v) for k, v in attrs.items()} for attrs in jobs]


def _ipp_call(scheme: str, host: str, port: int, path: str, uri: str, timeout: float,
              body: bytes) -> tuple[int, list[tuple[int, dict[str, list[Any]]]]]:
    if scheme in ("ipps", "https"):
        # printers ship self-signed certificates; this only reads status, it sends no card data
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(host, port, timeout=timeout,
                                                                        context=ctx)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("POST", path, body, {"Content-Type": "application/ipp"})
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    if resp.status != 200:
        raise ValueError(f"HTTP {resp.status} from {uri}")
    status, groups = decode_groups(data)
    if status >= 0x0400:
        raise ValueError(f"IPP status 0x{status:04x} from {uri}")
    return status, groups


def _attr(tag: int, name: str, value: bytes) -> bytes:
    n = name.encode()
    return struct.pack(">BH", tag, len(n)) + n + struct.pack(">H", len(value)) + value


def encode_request(operation: int, printer_uri: str, requested: tuple[str, ...],
                   which_jobs: str | None = None) -> bytes:
    """An IPP/2.0 request with the operation attributes a printer needs."""
    out = struct.pack(">BBHI", 2, 0, operation, next(_request_ids) & 0x7FFFFFFF)
    out += b"\x01"                                              # operation-attributes-tag
    out += _attr(0x47, "attributes-charset", b"utf-8")
    out += _attr(0x48, "attributes-natural-language", b"en")
    out += _attr(0x45, "printer-uri", printer_uri.encode())
    if which_jobs:
        out += _attr(0x44, "which-jobs", which_jobs.encode())
    for i, name in enumerate(requested):
        out += _attr(0x44, "requested-attributes" if i == 0 else "", name.encode())
    return out + b"\x03"                                        # end-of-attributes-tag


_STRING_TAGS = frozenset(range(0x41, 0x4A)) | {0x30}


def _value(tag: int, raw: bytes) -> Any:
    if tag in (0x21, 0x23) and len(raw) == 4:                  # integer, enum
        return struct.unpack(">i", raw)[0]
    if tag == 0x22 and len(raw) == 1:                          # boolean
        return raw != b"\x00"
    if tag in _STRING_TAGS:
        return raw.decode("utf-8", "replace")
    if tag in (0x35, 0x36) and len(raw) >= 4:                  # text/name with language
        lang_len = struct.unpack(">H", raw[:2])[0]
        text_len = struct.unpack(">H", raw[2 + lang_len:4 + lang_len])[0]
        return raw[4 + lang_len:4 + lang_len + text_len].decode("utf-8", "replace")
    if tag in (0x10, 0x12, 0x13):                              # unsupported, unknown, no-value
        return None
    return raw.hex()


def decode_response(data: bytes) -> tuple[int, dict[str, list[Any]]]:
    """The status code and the attributes of all groups merged (collections skipped)."""
    status, groups = decode_groups(data)
    merged: dict[str, list[Any]] = {}
    for _tag, attrs in groups:
        merged.update(attrs)
    return status, merged


def decode_groups(data: bytes) -> tuple[int, list[tuple[int, dict[str, list[Any]]]]]:
    """The status code and each attribute group (tag, attributes) of an IPP response."""
    if len(data) < 9:
        raise ValueError("IPP response too short")
    status = struct.unpack(">H", data[2:4])[0]
    groups: list[tuple[int, dict[str, list[Any]]]] = []
    attrs: dict[str, list[Any]] = {}
    pos, depth, name = 8, 0, ""
    while pos < len(data):
        tag = data[pos]
        pos += 1
        if tag == 0x03:
            break
        if tag < 0x10:                                         # a new attribute group
            attrs, name, depth = {}, "", 0
            groups.append((tag, attrs))
            continue
        (name_len,) = struct.unpack(">H", data[pos:pos + 2])
        new_name = data[pos + 2:pos + 2 + name_len].decode("utf-8", "replace")
        pos += 2 + name_len
        (value_len,) = struct.unpack(">H", data[pos:pos + 2])
        raw = data[pos + 2:pos + 2 + value_len]
        pos += 2 + value_len
        if tag == 0x34:                                        # begCollection: members not needed
            depth += 1
            if depth == 1 and new_name:
                name = new_name
                attrs.setdefault(name, []).append(None)
            continue
        if tag == 0x37:
            depth = max(0, depth - 1)
            continue
        if depth:
            continue
        if new_name:
            name = new_name
            attrs[name] = []
        if name:
            attrs[name].append(_value(tag, raw))
    return status, groups
