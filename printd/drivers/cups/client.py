"""pycups behind a timeout: every call gets a fresh connection and at most `call_timeout_s`.

pycups blocks in libcups and can hang (a stuck cupsd, a half-open socket); a hung call must cost the
printer worker a PrinterOffline, not its thread. Each call therefore runs on its own daemon thread
and is abandoned when it overruns. A fresh `cups.Connection` per call makes a cupsd restart
invisible to the next call (a connection kept across the restart would answer with errors).

The server is passed to each connection rather than set with `cups.setServer`: that setting is
process-global, and two printers on different CUPS servers would race for it.
"""
from __future__ import annotations

import http.client
import os
import socket
import threading
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

from printd.errors import PrinterOffline

T = TypeVar("T")

#: IPP status codes with which cupsd itself refused a request (so nothing was created)
_DEFINITE_SERVER_ERRORS = frozenset({0x0501, 0x0503, 0x0506, 0x0507})
#: abandoned (hung) calls tolerated before new calls are refused outright
MAX_HUNG_CALLS = 4


class CupsRequestError(Exception):
    """cupsd answered a request with an IPP error status (or libcups reported one)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{message} (IPP status 0x{status:04x})")
        self.status = status
        self.message = message

    @property
    def definite(self) -> bool:
        """True when cupsd itself answered with this error (libcups uses 0x0500/0x0502 for lost links)."""
        return self.status < 0x0500 or self.status in _DEFINITE_SERVER_ERRORS

    @property
    def not_found(self) -> bool:
        return self.status == 0x0406


class CupsCallTimeout(PrinterOffline):
    """A CUPS call got no answer within call_timeout_s (whether cupsd acted on it is unknown)."""


def resolve_server(configured: str | None) -> str | None:
    """The CUPS server to use: the config key, else $CUPS_SERVER, else libcups' own default."""
    return configured or os.environ.get("CUPS_SERVER") or None


def split_server(server: str | None) -> tuple[str | None, int | None]:
    """`/run/cups/cups.sock` -> (path, None); `host:631` -> (host, 631); `[::1]:631` -> (::1, 631)."""
    if not server:
        return None, None
    if server.startswith("/"):
        return server, None
    host, sep, port = server.rpartition(":")
    if sep and port.isdigit() and (not host.count(":") or host.startswith("[")):
        return host.strip("[]"), int(port)
    return server.strip("[]"), None


class CupsClient:
    """Timed pycups calls against one CUPS server."""

    def __init__(self, server: str | None, call_timeout_s: float) -> None:
        self.server = server
        self.call_timeout_s = call_timeout_s
        self._host, self._port = split_server(server)
        self._hung: set[threading.Thread] = set()
        self._lock = threading.Lock()

    @property
    def label(self) -> str:
        return self.server or "the default CUPS server"

    def connect(self) -> Any:
        """A new pycups connection (call only from within `call`)."""
        # pycups is an optional dependency: imported when a CUPS printer is used
        import cups

        kwargs: dict[str, Any] = {}
        if self._host is not None:
            kwargs["host"] = self._host
        if self._port is not None:
            kwargs["port"] = self._port
        return cups.Connection(**kwargs)

    def call(self, what: str, fn: Callable[[Any], T], timeout: float | None = None) -> T:
        """Run `fn(connection)` with a timeout.

        Raises PrinterOffline (cupsd unreachable), CupsCallTimeout (no answer in time) or
        CupsRequestError (cupsd answered with an IPP error).
        """
        import cups

        with self._lock:
            self._hung = {t for t in self._hung if t.is_alive()}
            if len(self._hung) >= MAX_HUNG_CALLS:
                raise CupsCallTimeout(f"{self.label}: {len(self._hung)} earlier CUPS calls are still "
                                      f"unanswered", card_fed=False)
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["value"] = fn(self.connect())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, which raises it
                box["error"] = exc

        t = threading.Thread(target=run, name=f"cups-call-{what}", daemon=True)
        t.start()
        t.join(self.call_timeout_s if timeout is None else timeout)
        if t.is_alive():
            with self._lock:
                self._hung.add(t)
            raise CupsCallTimeout(f"{self.label} did not answer {what} within {self.call_timeout_s:.1f} s",
                                  card_fed=False)
        if "error" not in box:
            return box["value"]
        exc = box["error"]
        if isinstance(exc, cups.IPPError):
            status, message = (*exc.args, "")[:2] if exc.args else (0, "")   # a lone status: no message
            raise CupsRequestError(int(status or 0), str(message)) from exc
        if isinstance(exc, RuntimeError) and "connect" in str(exc):
            raise PrinterOffline(f"cannot connect to {self.label}: {exc}", card_fed=False) from exc
        if isinstance(exc, cups.HTTPError):
            raise PrinterOffline(f"HTTP error from {self.label}: {exc}", card_fed=False) from exc
        raise exc


class _UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP to cupsd's local domain socket."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX)
        sock.settimeout(self.timeout)
        sock.connect(self.path)
        self.sock = sock


def get_ppd(server: str | None, queue: str, timeout: float) -> str | None:
    """The queue's PPD text (`GET /printers/QUEUE.ppd`, as lpoptions does); None when it has none.

    Read over plain HTTP with a socket timeout rather than pycups' getPPD, which fails on a domain
    socket server ("Host is down", measured with pycups 2.0.4).
    """
    host, port = split_server(server or "/run/cups/cups.sock")
    conn: http.client.HTTPConnection = (_UnixHTTPConnection(host, timeout) if host and host.startswith("/")
                                        else http.client.HTTPConnection(host or "localhost", port or 631,
                                                                        timeout=timeout))
    try:
        conn.request("GET", f"/printers/{quote(queue)}.ppd")
        reply = conn.getresponse()
        body = reply.read()
    finally:
        conn.close()
    if reply.status == 404:
        return None
    if reply.status != 200:
        raise OSError(f"GET /printers/{queue}.ppd: HTTP {reply.status}")
    return body.decode("latin-1")
