"""The Evolis command protocol: framing, replies, and what an error reply means.

A command is `ESC name;p1;...;pn CR` (Programming Guide A5013, "Communication Protocol"); `Db`
carries its panel bytes after the last separator. The printer answers in ASCII: `OK`, a value,
or an error text. Error texts come in three shapes (docs/drivers-evolis.md, "Answers"): the
guide's `ERR ...`, the current firmware's `ERROR ...` (`ERROR CDE`, `ERROR MECA`, ...) and an
unprefixed table (`CARD JAM`, `FEEDER EMPTY`, `COVER OPEN`, ...). So an action command (`P`,
`S`, `D`, `M`, `W`) succeeded only when its answer starts with `OK`; a query (`R`, and `Sk`,
which reads the feeder) answers a value unless the answer is one of the known error words. On a
serial port set to the ACK/NACK protocol (`Pcom`) an accepted command answers ACK (after the
value, for a query) and a refused one NACK plus a code.

`CommandChannel` keeps one command in flight on a `Transport` and frames the replies: a USB bulk
transfer is one reply; on a serial line a reply ends at an ACK, a NACK code, a CR/NUL terminator,
or when the line goes quiet.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from printd.drivers.base import Reason, Severity, StateReason
from printd.drivers.transport import Transport

ESC = b"\x1b"
CR = b"\r"
SEP = b";"
ACK = b"\x06"
NACK = b"\x15"

#: NACK codes of the ACK/NACK serial protocol (guide, "Programming the Serial Port")
NACK_CODES: dict[str, str] = {
    "1": "command error",
    "2": "parameter error",
    "T": "time-out or mechanical error",
    "C": "cover open",
    "F": "feeder error",
    "R": "ribbon error",
    "K": "magnetic checksum error",
    "D": "magnetic data error",
    "W": "magnetic write error",
}

#: silence that ends a reply on a byte stream with no terminator, unless the transport says
REPLY_GAP_S = 0.03
#: after resynchronising, late replies still arriving within this window are discarded
SYNC_QUIET_S = 0.1


class ProtocolError(ValueError):
    """A command that cannot be framed (a separator or terminator inside a parameter)."""


def frame(command: str, *params: str | int, data: bytes | None = None) -> bytes:
    """`ESC command;p1;...;pn CR`, with `data` appended after a final `;` (for `Db`)."""
    parts = [command, *(str(p) for p in params)]
    for part in parts:
        if not part.isascii() or any(c in part for c in "\x1b\r;"):
            raise ProtocolError(f"cannot send {part!r}: ESC, CR and ';' are reserved and text is ASCII")
    body = ";".join(parts).encode("ascii")
    if data is not None:
        body += SEP + data
    return ESC + body + CR


def frame_text(text: str) -> bytes:
    """Frame a technician's raw command such as `Rco;c` (an ESC or CR they typed is tolerated)."""
    text = text.strip().removeprefix("\x1b").removesuffix("\r").strip()
    if not text:
        raise ProtocolError("empty command")
    name, *params = text.split(";")
    return frame(name, *params)


#: error answers that carry no `ERR` prefix (Evolis sample SDK answer table; libevolis; esup-sgc-client)
UNPREFIXED_ERRORS = ("NEED CLEANING", "HOPPER FULL", "HOPPER DOOR", "COVER OPEN", "FEEDER EMPTY", "CARD JAM",
                     "OPT NOT AVAILABLE")
#: first letters of commands that act (parameters, sequence, downloads, magnetic, writes): `OK` or an error
ACTION_PREFIXES = ("P", "S", "D", "M", "W")
#: `S` commands that read rather than act (the feeder sensors of Quantum/Kiosk models)
QUERY_COMMANDS = frozenset({"Sk"})


def command_name(payload: bytes) -> str:
    """The command of a framed payload: `Rco` for `ESC Rco;c CR`, `Db` for a download."""
    body = payload[1:] if payload.startswith(ESC) else payload
    return body[:16].split(SEP, 1)[0].split(CR, 1)[0].decode("ascii", "replace")


def is_action(command: str | None) -> bool:
    """True when `command`'s only success answer is `OK` (see the module docstring)."""
    return command is not None and command[:1] in ACTION_PREFIXES and command not in QUERY_COMMANDS


def is_error_word(text: str) -> bool:
    """True for an answer that is one of the printer's error texts, whatever the command."""
    upper = text.strip().upper()
    return upper.startswith("ERR") or any(upper.startswith(word) for word in UNPREFIXED_ERRORS)


@dataclass(frozen=True)
class Reply:
    """One answer from the printer, to `command` when known."""

    raw: bytes
    text: str                 # the answer without framing bytes ("OK" for a bare ACK)
    nack: str | None = None   # the NACK code, on the ACK/NACK protocol
    command: str | None = None

    @property
    def is_error(self) -> bool:
        """A NACK; for an action anything not starting with `OK`; for a query a known error word."""
        if self.nack is not None:
            return True
        if is_action(self.command):
            return not self.text.strip().upper().startswith("OK")
        return is_error_word(self.text)

    @property
    def ok(self) -> bool:
        """True when the printer accepted the command."""
        return not self.is_error

    @property
    def vendor_code(self) -> str:
        """What the printer said, for logs and `StateReason.vendor_code` (`ERR RIBBON`, `NACK F`)."""
        return f"NACK {self.nack}" if self.nack is not None else self.text


def parse_reply(raw: bytes, command: str | None = None) -> Reply:
    """Turn reply bytes into a `Reply` to `command`; framing bytes (ACK, CR, LF, NUL) are stripped."""
    body = raw.strip(b"\x00\r\n")
    if body.startswith(NACK):
        code = body[1:2].decode("ascii", "replace") or "?"
        return Reply(raw, f"NACK {code}", nack=code, command=command)
    if body.endswith(ACK):
        body = body[:-1].strip(b"\x00\r\n")
        return Reply(raw, body.decode("ascii", "replace") or "OK", command=command)
    return Reply(raw, body.decode("ascii", "replace"), command=command)


def reply_complete(buf: bytes) -> bool:
    """True when `buf` holds a whole reply by its own framing (ACK, NACK+code, CR or NUL)."""
    stripped = buf.lstrip(b"\x00")
    if stripped.startswith(NACK):
        return len(stripped) >= 2
    return buf.endswith((ACK, CR, b"\x00")) and bool(stripped.strip(b"\r\n\x00"))


# ------------------------------------------------------------------------------------ error meaning

@dataclass(frozen=True)
class _Meaning:
    reason: str
    remedy: str
    severity: Severity | None = None


_NACK_MEANING: dict[str, _Meaning] = {
    "F": _Meaning(Reason.MEDIA_EMPTY, "load blank cards into the feeder"),
    "C": _Meaning(Reason.COVER_OPEN, "close the printer cover"),
    "R": _Meaning(Reason.MARKER_SUPPLY_EMPTY, "replace or re-seat the ribbon"),
    "T": _Meaning(Reason.MEDIA_JAM, "open the printer and remove the jammed card"),
}

_JAM = _Meaning(Reason.MEDIA_JAM, "open the printer and remove the jammed card")
#: (keyword in an error text, meaning), first match wins; docs/drivers-evolis.md cites each word's source
_TEXT_MEANING: tuple[tuple[str, _Meaning], ...] = (
    ("NEED CLEANING", _Meaning(Reason.OTHER, "run a cleaning card (Scp) soon", Severity.WARNING)),
    ("ERROR CDE", _Meaning(Reason.OTHER, "this printer model does not support the command")),
    ("ERR CMD", _Meaning(Reason.OTHER, "this printer model does not support the command")),
    ("OPT NOT AVAILABLE", _Meaning(Reason.OTHER, "the printer lacks the option this command needs")),
    ("PARAMETRES", _Meaning(Reason.OTHER, "the printer refused a parameter: see `printd diag`")),
    ("ERROR MECA", _JAM),
    ("ERROR CARD", _JAM),
    ("CARD JAM", _JAM),
    ("ERROR FEEDER", _Meaning(Reason.MEDIA_JAM, "the feeder failed to pick a card: check the feeder and "
                              "the card path for a stuck blank")),
    ("HOPPER FULL", _Meaning(Reason.OTHER, "the output hopper is full: take the printed cards out")),
    ("HOPPER DOOR", _Meaning(Reason.COVER_OPEN, "close the feeder (hopper) door")),
    ("RIBBON TYPE", _Meaning(Reason.OTHER, "install the ribbon type configured for this printer")),
    ("FEEDER", _Meaning(Reason.MEDIA_EMPTY, "load blank cards into the feeder")),
    ("NO CARD", _Meaning(Reason.MEDIA_EMPTY, "load blank cards into the feeder")),
    ("RIBBON", _Meaning(Reason.MARKER_SUPPLY_EMPTY, "replace the ribbon")),
    ("COVER", _Meaning(Reason.COVER_OPEN, "close the printer cover")),
    ("TEMP", _Meaning(Reason.OVERHEAT, "wait for the print head to cool down")),
    ("HEAT", _Meaning(Reason.OVERHEAT, "wait for the print head to cool down")),
    ("MECHANICAL", _JAM),
    ("JAM", _JAM),
    ("ERR CARD", _Meaning(Reason.MEDIA_JAM, "a card is stuck inside the printer: remove it")),
    ("TIME", _Meaning(Reason.MEDIA_JAM, "check the card path for a jam")),
)


def classify(reply: Reply) -> StateReason:
    """The IPP reason (with severity and a remedy) for an error reply; the raw answer is kept."""
    meaning: _Meaning | None = None
    if reply.nack is not None:
        meaning = _NACK_MEANING.get(reply.nack)
        detail = NACK_CODES.get(reply.nack, "unknown NACK code")
    else:
        upper = reply.text.upper()
        meaning = next((m for key, m in _TEXT_MEANING if key in upper), None)
        detail = reply.text
    if meaning is None:
        meaning = _Meaning(Reason.OTHER, "see the printer's display or run `printd diag`")
    base = StateReason.of(meaning.reason, vendor_code=reply.vendor_code,
                          message=f"{detail}: {meaning.remedy}")
    if meaning.severity is not None:
        base = StateReason(base.keyword, meaning.severity, base.vendor_code, base.message)
    return base


# ------------------------------------------------------------------------------------ the channel

class ReplyTimeout(TimeoutError):
    """The printer did not answer a command in time."""


class CommandChannel:
    """One command in flight on a transport: write a frame, read its reply.

    Every command gets exactly one reply. After giving up on a reply (a timeout), a late one may
    still come and must not be taken for the answer to the next command, so the channel turns
    "stale" and resynchronises first: it sends a probe whose answer it knows (`Rsn`, the serial
    number), discards replies until that answer shows up, then discards whatever follows within a
    short quiet window (answers to earlier probes that also timed out).
    """

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self._lock = threading.Lock()
        self._stale = True          # a fresh link may hold bytes from before us
        self._sync: tuple[bytes, str] | None = None

    def set_sync(self, probe: bytes, expected: str) -> None:
        """The probe used to resynchronise and the answer that proves the link is in step."""
        self._sync = (probe, expected)

    def mark_stale(self) -> None:
        """Do not trust the next reply before resynchronising (after a reconnect, a timeout...)."""
        self._stale = True

    @property
    def stale(self) -> bool:
        return self._stale

    def _read_reply(self, timeout: float) -> bytes:
        buf = self.transport.read(max(0.001, timeout))
        if not buf:
            return b""
        while not (self.transport.packetized or reply_complete(buf)):
            more = self.transport.read(getattr(self.transport, "reply_gap_s", REPLY_GAP_S))
            if not more:
                break
            buf += more
        return buf

    def _drain(self, quiet: float) -> bytes:
        junk = b""
        for _ in range(64):
            chunk = self.transport.read(quiet)
            if not chunk:
                break
            junk += chunk
        return junk

    def _resync(self, deadline: float) -> None:
        if self._sync is None:
            self._drain(0.01)
        else:
            probe, expected = self._sync
            self.transport.write(probe)
            seen: str | None = None
            while True:
                buf = self._read_reply(deadline - time.monotonic())
                if not buf:
                    if seen is not None:
                        raise ReplyTimeout(f"the printer answers {seen!r} to {probe[1:-1].decode()}, "
                                           f"not {expected!r}: another printer on this link?")
                    raise ReplyTimeout("no answer to the resynchronising probe")
                seen = parse_reply(buf).text
                if seen.endswith(expected):
                    break
            self._drain(SYNC_QUIET_S)
        self._stale = False

    def transact(self, payload: bytes, timeout: float) -> Reply:
        """Send one framed command and return its reply; `ReplyTimeout` if none comes in `timeout` s.

        Transport errors (`LinkLost`, `TransportTimeout`) pass through to the caller.
        """
        with self._lock:
            deadline = time.monotonic() + timeout
            try:
                if self._stale:
                    self._resync(deadline)
                self.transport.write(payload)
                buf = self._read_reply(deadline - time.monotonic())
            except BaseException:
                self._stale = True
                raise
            if not buf:
                self._stale = True
                raise ReplyTimeout(f"no answer within {timeout:.1f} s")
            return parse_reply(buf, command_name(payload))
