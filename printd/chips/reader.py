"""The desk reader: any PC/SC contactless reader (ACR122U, HID OMNIKEY, ...) through pcscd and pyscard.

A card's UID is read with the PC/SC pseudo-APDU GET DATA `FF CA 00 00 00` (PC/SC part 3, section 3.2.2.1.3:
the reader answers the ISO 14443 UID followed by `90 00`; `6A 81` "function not supported" for a card that
has none to give, e.g. a contact card). Blocking: called from the reader service's own thread.

Each call opens and releases its own PC/SC context, so a restarted pcscd or a re-plugged reader is picked
up by the next call with nothing to reset.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from printd.errors import PrintdError

GET_UID = [0xFF, 0xCA, 0x00, 0x00, 0x00]


class ReaderProblem(enum.StrEnum):
    """Why no UID could be read, as a code the page translates (each with a remedy in `MESSAGES`)."""

    NO_SERVICE = "reader_service_down"     # pcscd is not running
    NO_READER = "reader_missing"           # pcscd runs, the configured reader is not connected
    NO_CARD = "reader_no_card"             # nothing on the reader
    NOT_CONTACTLESS = "card_not_contactless"   # a card without an ISO 14443 UID (contact card, unknown type)
    CARD_MOVED = "card_moved"              # taken off while being read
    LIBRARY_MISSING = "reader_library_missing"   # pyscard not installed


MESSAGES = {
    ReaderProblem.NO_SERVICE: "the smart-card service (pcscd) is not running; start it: systemctl start pcscd",
    ReaderProblem.NO_READER: "the card reader is not connected; plug it in (it is found again by itself)",
    ReaderProblem.NO_CARD: "no card on the reader; lay the card flat on the reader and try again",
    ReaderProblem.NOT_CONTACTLESS: "this card has no contactless (ISO 14443) chip UID; is it a KTP-el card?",
    ReaderProblem.CARD_MOVED: "the card moved while it was read; hold it still on the reader and try again",
    ReaderProblem.LIBRARY_MISSING: "pyscard is not installed: install printd[reader] (and pcscd)",
}


class ReaderError(PrintdError):
    """No UID could be read; `problem` says why."""

    def __init__(self, problem: ReaderProblem, detail: str = "") -> None:
        super().__init__(MESSAGES[problem] + (f" ({detail})" if detail else ""))
        self.problem = problem


@dataclass(frozen=True)
class ReaderStatus:
    """What the reader shows right now."""

    present: bool
    reader: str | None
    uid: str | None
    problem: ReaderProblem | None


def _scard() -> Any:
    try:
        from smartcard import scard
    except ImportError as exc:   # an optional extra: a station without a reader does not need it
        raise ReaderError(ReaderProblem.LIBRARY_MISSING) from exc
    return scard


class PcscReader:
    """The reader whose PC/SC name starts with `name` (names carry a slot suffix such as ` 00 00`)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def _match(self, names: list[str]) -> str | None:
        exact = [n for n in names if n == self.name]
        prefix = [n for n in names if n.startswith(self.name)]
        found = exact or prefix
        return found[0] if found else None

    def read(self) -> ReaderStatus:
        """The reader's state and, when a contactless card lies on it, its UID. Never raises ReaderError."""
        try:
            reader, uid = self._read()
        except ReaderError as exc:
            present = exc.problem not in (ReaderProblem.NO_SERVICE, ReaderProblem.NO_READER,
                                          ReaderProblem.LIBRARY_MISSING)
            return ReaderStatus(present=present, reader=self.name if present else None, uid=None, problem=exc.problem)
        return ReaderStatus(present=True, reader=reader, uid=uid, problem=None)

    def read_uid(self) -> str:
        """The UID of the card on the reader (hex, upper case), or ReaderError saying why not."""
        return self._read()[1]

    def _read(self) -> tuple[str, str]:
        sc = _scard()
        hresult, ctx = sc.SCardEstablishContext(sc.SCARD_SCOPE_USER)
        if hresult != sc.SCARD_S_SUCCESS:
            raise ReaderError(ReaderProblem.NO_SERVICE, sc.SCardGetErrorMessage(hresult))
        try:
            hresult, names = sc.SCardListReaders(ctx, [])
            if hresult == sc.SCARD_E_NO_SERVICE:
                raise ReaderError(ReaderProblem.NO_SERVICE)
            reader = self._match(list(names) if hresult == sc.SCARD_S_SUCCESS else [])
            if reader is None:
                raise ReaderError(ReaderProblem.NO_READER, f"looking for {self.name!r}")
            hresult, card, _protocol = sc.SCardConnect(
                ctx, reader, sc.SCARD_SHARE_SHARED, sc.SCARD_PROTOCOL_T0 | sc.SCARD_PROTOCOL_T1)
            if hresult != sc.SCARD_S_SUCCESS:
                if hresult in (sc.SCARD_E_UNKNOWN_READER, sc.SCARD_E_READER_UNAVAILABLE):
                    raise ReaderError(ReaderProblem.NO_READER)
                if hresult == sc.SCARD_E_NO_SERVICE:
                    raise ReaderError(ReaderProblem.NO_SERVICE)
                raise ReaderError(ReaderProblem.NO_CARD)
            try:
                hresult, response = sc.SCardTransmit(card, _protocol, GET_UID)
            finally:
                sc.SCardDisconnect(card, sc.SCARD_LEAVE_CARD)
            if hresult != sc.SCARD_S_SUCCESS:
                raise ReaderError(ReaderProblem.CARD_MOVED, sc.SCardGetErrorMessage(hresult))
            if len(response) < 2 or response[-2:] != [0x90, 0x00] or len(response) - 2 not in (4, 7, 10):
                sw = bytes(response[-2:]).hex().upper() if len(response) >= 2 else "none"
                raise ReaderError(ReaderProblem.NOT_CONTACTLESS, f"status word {sw}")
            return reader, bytes(response[:-2]).hex().upper()
        finally:
            sc.SCardReleaseContext(ctx)
