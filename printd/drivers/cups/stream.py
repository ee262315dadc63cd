"""Queues whose printer only takes a byte stream (`socket://`, AppSocket/JetDirect port 9100; `lpd://`).

This is how HID's HDP5000 driver is installed: a vendor filter turns the card into the printer's own
raster and CUPS's socket backend writes it to port 9100. The printer keeps no job records anyone can
ask and says nothing over the connection; CUPS's "completed" means the backend wrote every byte and
the printer then closed the connection (or stayed silent for 90 s). What the backend reports on the
way is the evidence (measured on CUPS 2.4.2 with `bench/cups_socket_facts.py`, backend source
`backend/socket.c` of CUPS 2.4.2):

- before it connects it retries without limit (`contimeout` 7 days) with "The printer is in use.",
  "The printer is unreachable at this time." or "The printer may not exist or is unavailable at this
  time.", the job `processing`: no byte has reached the printer;
- once connected: "Connected to printer.", then "Waiting for printer to finish." with the reason
  `cups-waiting-for-job-completed` once every byte is written and it waits for the printer to close;
- a connection that breaks while it writes: "Unable to write print data: Broken pipe", and the
  error policy decides (abort-job: `aborted`; stop-printer: queue stopped, job back to pending and
  sent again in full on `cupsenable`; retry-job: held, sent again after JobRetryInterval;
  retry-current-job: sent again at once, often within the same second);
- a connection that breaks after the last byte was written (the printer reset or lost power while
  printing) or a printer that never closes: `completed` (wait_bc ends on the reset, or after 90 s of
  silence) although nothing may have printed.

So on these queues printd reads the backend's phase from the job's and the queue's messages, never
probes the printer while the backend holds the connection (a port-9100 printer serves one
connection; a second one can be refused while it prints), and after a completion checks that the
printer still answers before calling the card printed.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

#: device URI schemes whose printer only takes a byte stream
STREAM_SCHEMES = frozenset({"socket", "lpd"})
#: device URI schemes whose printer answers IPP (job records, its own reasons)
IPP_SCHEMES = frozenset({"ipp", "ipps", "http", "https"})
#: what the socket backend says while it cannot connect (CUPS 2.4 backend/socket.c, English)
CONNECT_FAILING = ("The printer is in use.", "The printer is unreachable at this time.",
                   "The printer may not exist or is unavailable at this time.", "The printer is not responding.",
                   "Unable to contact printer")
#: what it says once it holds the connection
CONNECTED = ("Connected to printer.", "Print file sent.", "Waiting for printer to finish.")
#: the reason the backend sets once every byte is written and it waits for the printer's close
WAITING_REASON = "cups-waiting-for-job-completed"
#: what it says when a write to the printer fails (the connection broke mid-stream)
WRITE_FAILED = "Unable to write print data"
#: the socket backend waits this long for the printer's close before it reports the job done anyway
WAITEOF_SILENCE_S = 90.0
#: a completion this long after the wait began was CUPS giving up, not the printer saying done
WAITEOF_GAVE_UP_S = WAITEOF_SILENCE_S - 5.0


def scheme_of(device_uri: str) -> str:
    return urlsplit(device_uri).scheme.lower()


def queue_kind(device_uri: str) -> str:
    """"ipp" (the printer answers IPP), "stream" (socket://, lpd://) or "local" (usb://, vendor backends)."""
    scheme = scheme_of(device_uri)
    if scheme in IPP_SCHEMES:
        return "ipp"
    if scheme in STREAM_SCHEMES:
        return "stream"
    return "local"


def waiteof_off(device_uri: str) -> bool:
    """True when the socket URI tells the backend not to wait for the printer (`waiteof=false`)."""
    values = parse_qs(urlsplit(device_uri).query).get("waiteof", [])
    return bool(values) and values[-1].lower() in ("false", "off", "no", "0")


def ppd_filters(ppd_text: str) -> list[str]:
    """The filter programs a PPD names (`*cupsFilter2: "src dst cost program"`, `*cupsFilter: "src cost program"`)."""
    out = []
    for line in ppd_text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("*cupsFilter", "*cupsFilter2"):
            words = value.strip().strip('"').split()
            if words:
                out.append(words[-1])
    return out


def phase(message: str) -> str | None:
    """The backend's phase a message shows: "connecting", "connected", "write-failed" or None."""
    m = message.strip()
    if not m:
        return None
    if m.startswith(WRITE_FAILED):
        return "write-failed"
    if any(m.startswith(c) for c in CONNECTED):
        return "connected"
    if any(m.startswith(c) for c in CONNECT_FAILING):
        return "connecting"
    return None


@dataclass
class StreamEvidence:
    """What the backend of a stream queue showed while printd followed one card."""

    connected: bool = False
    connect_failing_since: float | None = None
    connect_failure: str | None = None
    write_failed: str | None = None
    waiting_since: float | None = None
    #: CUPS did not answer while the card was in flight (cupsd restarted: it kills the backend, then
    #: sends the job again from the start, measured within the same second)
    cups_gone: str | None = None
    #: error reasons a status monitor (or the vendor backend) set on the queue during this card
    monitor_errors: list[str] = field(default_factory=list)
    #: the backend connected again after it had sent every byte: CUPS is sending the card a second time
    sent_again: bool = False
    #: this card's backend said it had sent every byte (its own message or a newly set reason)
    all_sent: bool = False

    def observe(self, messages: tuple[str, ...], reasons: set[str], now: float | None = None) -> None:
        """One reading of the job's and the queue's messages and the queue's new reasons."""
        now = time.monotonic() if now is None else now
        phases = [p for p in (phase(m) for m in messages) if p]
        if "write-failed" in phases and self.write_failed is None:
            self.write_failed = next(m for m in messages if phase(m) == "write-failed")
        if self.all_sent and any(m.startswith("Connected to printer") for m in messages):
            self.sent_again = True
        if "connected" in phases or WAITING_REASON in reasons:
            self.connected = True
            self.connect_failing_since = None
        elif "connecting" in phases and not self.connected:
            if self.connect_failing_since is None:
                self.connect_failing_since = now
            self.connect_failure = next(m for m in messages if phase(m) == "connecting")
        if WAITING_REASON in reasons or any(m.startswith("Waiting for printer to finish") for m in messages):
            self.all_sent = True
            if self.waiting_since is None:
                self.waiting_since = now

    def failing_for(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        return 0.0 if self.connect_failing_since is None else now - self.connect_failing_since

    def waited_for(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        return 0.0 if self.waiting_since is None else now - self.waiting_since
