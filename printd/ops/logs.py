"""Logging set-up: one line per event, journald priorities under systemd, no NIK in clear.

Under systemd (stderr goes to the journal) a line is `<6>printd.station: card1 is back online`: the
`<N>` prefix is the syslog priority journald files the line under (`journalctl -p warning`), and the
journal adds its own timestamp. Elsewhere it is `2026-11-29T10:15:02.123+07:00 INFO printd.station: ...`.

A NIK (16-digit resident number) is personal data (UU 27/2022): every record is masked before any
handler of ours writes it, whether the NIK sits in the message, an argument or an exception's text.
"""
from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Mapping
from datetime import datetime
from typing import TextIO

#: a run of exactly 16 digits, not part of a longer number (a 19-digit nanosecond time is no NIK)
NIK_RE = re.compile(r"(?<!\d)\d{16}(?!\d)")

#: sd-daemon(3) priorities: what journald reads from a `<N>` line prefix
_PRIORITIES = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))
_DEBUG_PRIORITY = 7

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# loggers of libraries that install handlers of their own; ours must see (and mask) their records
_THIRD_PARTY = ("uvicorn", "uvicorn.error", "uvicorn.access", "fastapi")


def mask_nik(nik: str) -> str:
    """`3274011203900001` -> `3274********0001`; anything that is not 16 digits is masked whole."""
    s = nik.strip()
    if len(s) == 16 and s.isdigit():
        return s[:4] + "*" * 8 + s[-4:]
    # malformed personal data is still personal data: show its length, nothing else
    return "*" * len(s)


def mask_niks(text: str) -> str:
    """Mask every NIK in free text."""
    return NIK_RE.sub(lambda m: mask_nik(m.group(0)), text)


def under_systemd(environ: Mapping[str, str] | None = None) -> bool:
    """True when started by systemd (stderr is the journal): `$JOURNAL_STREAM` or `$INVOCATION_ID` set."""
    env = os.environ if environ is None else environ
    return bool(env.get("JOURNAL_STREAM") or env.get("INVOCATION_ID"))


def syslog_priority(levelno: int) -> int:
    """The syslog priority (2 crit .. 7 debug) for a logging level."""
    for threshold, priority in _PRIORITIES:
        if levelno >= threshold:
            return priority
    return _DEBUG_PRIORITY


class NikMaskFilter(logging.Filter):
    """Masks NIKs in a record's message, arguments, exception and stack text; never drops a record.

    The message is rendered (`msg % args`) and masked once, so a NIK in any argument (an int, a
    dict, a URL) is caught; `args` is then cleared so no later formatting can bring it back.
    """

    _exc_formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string: logging would print the raw args to stderr
            message = f"{record.msg!s} (unformattable arguments: {record.args!r})"
        record.msg = mask_niks(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._exc_formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_niks(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_niks(record.stack_info)
        return True


class OneLineFormatter(logging.Formatter):
    """One line per event: newlines (tracebacks included) become a literal `\\n`.

    One line keeps a traceback attached to its event and priority in the journal, and stops a
    client-supplied string from forging a log line of its own.
    """

    def __init__(self, journald: bool) -> None:
        fmt = "%(name)s: %(message)s" if journald else "%(asctime)s %(levelname)s %(name)s: %(message)s"
        super().__init__(fmt)
        self.journald = journald

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        # local time with its offset: the station's WIB and the machine's clock can differ
        return datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds")

    def format(self, record: logging.LogRecord) -> str:
        # masked again here: the filter guards the record, this guards fields the filter never sees
        text = mask_niks(super().format(record)).rstrip("\n")
        text = text.replace("\r", "\\r").replace("\n", "\\n")
        if self.journald:
            return f"<{syslog_priority(record.levelno)}>{text}"
        return text


def setup_logging(
    level: str,
    *,
    journald: bool | None = None,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Configure the root logger once for the process; calling it again replaces our handler.

    `level` is a `[logging] level` name (case-insensitive). `journald` None means detect
    (`under_systemd()`). Writes to stderr unless `stream` is given. Returns the handler.
    """
    name = level.upper()
    if name not in LEVELS:
        raise ValueError(f"unknown log level {level!r}; one of {', '.join(LEVELS)}")
    if journald is None:
        journald = under_systemd()

    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_printd", False)]:
        root.removeHandler(old)
        old.close()
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    handler._printd = True  # type: ignore[attr-defined]  # marks our handler, to replace it on reconfigure
    handler.addFilter(NikMaskFilter())
    handler.setFormatter(OneLineFormatter(journald))
    root.addHandler(handler)
    root.setLevel(name)

    for lib in _THIRD_PARTY:
        # their own handlers would write unmasked, differently formatted lines: send them through ours
        lib_logger = logging.getLogger(lib)
        lib_logger.handlers.clear()
        lib_logger.propagate = True
    # warnings.warn() output goes through the same masking and one-line format
    logging.captureWarnings(True)
    return handler
