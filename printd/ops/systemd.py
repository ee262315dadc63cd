"""sd_notify for a `Type=notify` service: readiness, status text, watchdog pings.

The protocol is one datagram of newline-separated `KEY=VALUE` lines to the unix socket named by
`$NOTIFY_SOCKET` (a path, or `@name` for the abstract namespace). A dozen lines of our own instead of
a dependency: nothing here may ever stop the daemon, so every failure is logged once and swallowed.

Wiring in `printd serve` (sketch)::

    notifier = Notifier()
    ...start the station and the HTTP listener...
    notifier.ready("2 printers, 0 queued")
    task = asyncio.create_task(watchdog_loop(notifier, station_status_line))
    ...on shutdown: notifier.stopping(); task.cancel()
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

#: how often the status text is re-read when no watchdog is configured (or it is slower than this)
STATUS_REFRESH_S = 5.0
#: longest a notification may block the caller when the manager's queue is full
SEND_TIMEOUT_S = 0.25


def watchdog_interval_s(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between WATCHDOG=1 pings: half of `$WATCHDOG_USEC`, or None when no watchdog is ours.

    systemd sets `WATCHDOG_PID` to the process it expects pings from; a child that inherited the
    variables (a helper the daemon spawned) must not ping on the daemon's behalf.
    """
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    pid = env.get("WATCHDOG_PID", "")
    if pid and (not pid.isdigit() or int(pid) != os.getpid()):
        return None
    # half the timeout, as sd_watchdog_enabled(3) advises: one late ping must not be fatal
    return int(usec) / 2_000_000


def _address(raw: str | None) -> str | None:
    """The socket address for `$NOTIFY_SOCKET`, or None when it is unset or a kind we do not speak."""
    if not raw:
        return None
    if raw.startswith("@"):
        # abstract namespace: a leading NUL instead of the '@'
        return "\0" + raw[1:]
    if raw.startswith("/"):
        return raw
    # vsock:... (VMs) and anything newer: not used on a print PC; stay silent rather than guess
    return None


def _one_line(text: str) -> str:
    """Status text as one line: a newline would start a new KEY=VALUE assignment."""
    return " ".join(text.split())


class Notifier:
    """Talks to the service manager over `$NOTIFY_SOCKET`; every method is a no-op when not under systemd.

    Methods return True when the datagram was sent, False otherwise; they never raise.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._environ = dict(env)
        self._socket_name = env.get("NOTIFY_SOCKET", "")
        self._address = _address(self._socket_name)
        self._sock: socket.socket | None = None
        # printer workers run in threads and may report status too
        self._lock = threading.Lock()
        self._warned = False

    @property
    def enabled(self) -> bool:
        """True when a notify socket is configured (the process runs as a `Type=notify` service)."""
        return self._address is not None

    def watchdog_interval_s(self) -> float | None:
        """Seconds between pings for this process (see the module function), None when no watchdog."""
        return watchdog_interval_s(self._environ)

    def notify(self, **fields: str | int) -> bool:
        """Send `KEY=VALUE` assignments in one datagram, e.g. `notify(READY=1, STATUS="up")`."""
        if self._address is None or not fields:
            return False
        payload = "\n".join(f"{key}={_one_line(str(value))}" for key, value in fields.items())
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                    # called from the event loop: a manager that reads slowly (a full datagram queue)
                    # may cost a dropped ping, never a stalled loop
                    self._sock.settimeout(SEND_TIMEOUT_S)
                self._sock.sendto(payload.encode("utf-8", "replace"), self._address)
            except OSError as exc:
                # the manager may be restarting (daemon-reexec) or the socket gone; say it once
                if not self._warned:
                    log.warning("sd_notify to %s failed: %s", self._socket_name, exc)
                    self._warned = True
                return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """Tell systemd start-up is complete (the listener accepts connections); optional status text."""
        if status is None:
            return self.notify(READY=1)
        return self.notify(READY=1, STATUS=status)

    def status(self, text: str) -> bool:
        """Set the one-line status shown by `systemctl status printd`."""
        return self.notify(STATUS=text)

    def watchdog(self) -> bool:
        """Ping the watchdog: 'the event loop is alive'."""
        return self.notify(WATCHDOG=1)

    def extend_timeout(self, seconds: float) -> bool:
        """Ask for more start-up/shut-down time (e.g. while a card in flight finishes)."""
        return self.notify(EXTEND_TIMEOUT_USEC=int(seconds * 1_000_000))

    def stopping(self, status: str | None = None) -> bool:
        """Tell systemd an orderly shutdown has begun."""
        if status is None:
            return self.notify(STOPPING=1)
        return self.notify(STOPPING=1, STATUS=status)

    def close(self) -> None:
        """Close the socket (it is reopened on the next message)."""
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None


async def watchdog_loop(
    notifier: Notifier,
    status_fn: Callable[[], str],
    *,
    interval_s: float | None = None,
    status_refresh_s: float = STATUS_REFRESH_S,
    alive: Callable[[], bool] | None = None,
) -> None:
    """Ping WATCHDOG=1 and keep STATUS= current, from the event loop, until cancelled.

    The pings come from a coroutine on purpose: when something blocks the event loop (a sync call
    that hangs, a runaway computation), the pings stop and systemd restarts the daemon after
    `WatchdogSec`. STATUS= is sent only when `status_fn()`'s text changes. Returns at once when not
    under systemd. `interval_s` overrides the interval derived from `$WATCHDOG_USEC` (tests).
    `alive()` False (a supervised task that cannot recover) withholds the pings, so systemd restarts us.
    """
    if not notifier.enabled:
        return
    ping_every = interval_s if interval_s is not None else notifier.watchdog_interval_s()
    tick = status_refresh_s if ping_every is None else min(ping_every, status_refresh_s)
    last_status: str | None = None
    status_failed = False
    withheld = False
    while True:
        fields: dict[str, str | int] = {}
        healthy = alive is None or alive()
        if not healthy and not withheld:
            log.error("a task cannot recover: no more watchdog pings, systemd will restart printd")
        withheld = not healthy
        if ping_every is not None and healthy:
            fields["WATCHDOG"] = 1
        try:
            text = _one_line(status_fn())
        except Exception:  # a broken status line is a bug, but not a reason to stop the pings
            if not status_failed:
                log.exception("status line for systemd failed; keeping the last one")
                status_failed = True
        else:
            status_failed = False
            if text != last_status:
                fields["STATUS"] = text
                last_status = text
        if fields and not notifier.notify(**fields):
            last_status = None  # not delivered: send the status again on the next tick
        await asyncio.sleep(tick)
