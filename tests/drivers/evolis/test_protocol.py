"""Framing, replies and their meaning, the command channel, and the card book."""
from __future__ import annotations

import json
from collections import deque
from pathlib import Path
from typing import Any

import pytest

from printd.drivers.base import PrinterState, Reason, Severity
from printd.drivers.evolis.cardbook import CardBook, InFlight
from printd.drivers.evolis.driver import RIBBON_QUERIES, STATUS_QUERIES, EvolisDriver
from printd.drivers.evolis.protocol import (
    CommandChannel,
    ProtocolError,
    ReplyTimeout,
    classify,
    frame,
    frame_text,
    parse_reply,
    reply_complete,
)
from tests.drivers.evolis.support import FIXTURES, evolis_config

FRAMES = json.loads((FIXTURES / "evolis-frames.json").read_text(encoding="utf-8"))
ANSWERS = json.loads((FIXTURES / "evolis-printer-answers.json").read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------- framing

@pytest.mark.parametrize("case", FRAMES["commands"], ids=lambda c: ";".join([c["command"], *c["params"]]))
def test_commands_are_framed_as_the_guide_says(case: dict[str, Any]) -> None:
    assert frame(case["command"], *case["params"]) == case["bytes"].encode("latin-1")


@pytest.mark.parametrize("case", FRAMES["downloads"], ids=lambda c: f"Db;{c['panel']};{c['levels']}")
def test_downloads_carry_exactly_one_panel_of_data(case: dict[str, Any]) -> None:
    data = bytes([0x1B, 0x0D, 0x3B]) * (case["data_bytes"] // 3) + b"\x00" * (case["data_bytes"] % 3)
    out = frame("Db", case["panel"], case["levels"], data=data)
    header = case["header"].encode("latin-1")
    assert out.startswith(header) and out.endswith(b"\r") and len(out) == case["total_bytes"]
    assert out[len(header):-1] == data   # binary data goes as it is, ESC and CR included


def test_text_parts_cannot_hold_protocol_characters() -> None:
    for bad in ("a;b", "a\rb", "\x1b", "é"):
        with pytest.raises(ProtocolError):
            frame("Pr", bad)


def test_a_technicians_raw_command_is_framed() -> None:
    assert frame_text("Rco;c") == b"\x1bRco;c\r"
    assert frame_text(" \x1bRsn\r ") == b"\x1bRsn\r"
    with pytest.raises(ProtocolError):
        frame_text("  ")


# ---------------------------------------------------------------------------------------- replies

@pytest.mark.parametrize("raw, text, error, nack", [
    (b"OK", "OK", False, None),
    (b"OK\r", "OK", False, None),
    (b"1234\x00", "1234", False, None),
    (b"ERR RIBBON", "ERR RIBBON", True, None),
    (b"\x06", "OK", False, None),
    (b"EMU123\x06", "EMU123", False, None),
    (b"\x15F", "NACK F", True, "F"),
    (b"\x152", "NACK 2", True, "2"),
])
def test_replies_are_parsed(raw: bytes, text: str, error: bool, nack: str | None) -> None:
    reply = parse_reply(raw)
    assert (reply.text, reply.is_error, reply.nack, reply.ok) == (text, error, nack, not error)


@pytest.mark.parametrize("buf, complete", [
    (b"OK", False), (b"OK\r", True), (b"OK\x06", True), (b"\x15", False), (b"\x15F", True), (b"\x00", False),
])
def test_reply_completeness_by_framing(buf: bytes, complete: bool) -> None:
    assert reply_complete(buf) is complete


@pytest.mark.parametrize("raw, keyword, severity", [
    (b"ERR FEEDER EMPTY", Reason.MEDIA_EMPTY, Severity.ERROR),
    (b"ERR RIBBON", Reason.MARKER_SUPPLY_EMPTY, Severity.ERROR),
    (b"ERR RIBBON TYPE", Reason.OTHER, Severity.ERROR),
    (b"ERR COVER OPEN", Reason.COVER_OPEN, Severity.ERROR),
    (b"ERR MECHANICAL", Reason.MEDIA_JAM, Severity.ERROR),
    (b"ERR CARD", Reason.MEDIA_JAM, Severity.ERROR),
    (b"ERR TIME", Reason.MEDIA_JAM, Severity.ERROR),
    (b"ERR HEAD TEMP", Reason.OVERHEAT, Severity.ERROR),
    (b"ERR NEED CLEANING", Reason.OTHER, Severity.WARNING),
    (b"ERR CMD", Reason.OTHER, Severity.ERROR),
    (b"\x15F", Reason.MEDIA_EMPTY, Severity.ERROR),
    (b"\x15C", Reason.COVER_OPEN, Severity.ERROR),
    (b"\x15R", Reason.MARKER_SUPPLY_EMPTY, Severity.ERROR),
    (b"\x15T", Reason.MEDIA_JAM, Severity.ERROR),
    (b"\x151", Reason.OTHER, Severity.ERROR),
    (b"\x152", Reason.OTHER, Severity.ERROR),
])
def test_error_answers_map_to_ipp_reasons_keeping_the_vendor_code(raw: bytes, keyword: str,
                                                                  severity: Severity) -> None:
    reason = classify(parse_reply(raw))
    assert (reason.keyword, reason.severity) == (keyword, severity)
    assert reason.vendor_code == parse_reply(raw).vendor_code and reason.message


# ---------------------------------------------------------------------------------------- the channel

class ScriptedTransport:
    """A transport whose printer answers from a script: each write pops the next list of chunks."""

    def __init__(self, packetized: bool = True) -> None:
        self.packetized = packetized
        self.reply_gap_s = 0.001
        self.written: list[bytes] = []
        self.script: deque[list[bytes]] = deque()
        self.pending: deque[bytes] = deque()
        self.is_open = True
        self.answers: dict[str, bytes] | None = None

    def open(self) -> None:
        self.is_open = True

    def close(self) -> None:
        self.is_open = False

    def describe(self) -> dict[str, Any]:
        return {"transport": "scripted"}

    def write(self, data: bytes) -> None:
        self.written.append(data)
        if self.answers is not None:
            # a command the script does not know is one this model lacks
            self.pending.append(self.answers.get(data[1:-1].decode(), b"ERR CMD"))
        elif self.script:
            self.pending.extend(self.script.popleft())

    def read(self, timeout: float) -> bytes:
        return self.pending.popleft() if self.pending else b""


def test_a_reply_split_on_a_serial_line_is_joined() -> None:
    t = ScriptedTransport(packetized=False)
    t.script.append([b"EMU", b"123"])
    assert CommandChannel(t).transact(b"\x1bRsn\r", 0.1).text == "EMU123"


def test_late_replies_are_discarded_after_a_timeout() -> None:
    t = ScriptedTransport()
    ch = CommandChannel(t)
    ch.set_sync(b"\x1bRsn\r", "SN1")
    t.script.append([b"SN1"])                   # the resync probe on a fresh link
    t.script.append([b"OK"])                    # Scs
    t.script.append([])                         # Se: no answer in time
    assert ch.transact(b"\x1bScs\r", 0.05).text == "OK"
    with pytest.raises(ReplyTimeout):
        ch.transact(b"\x1bSe\r", 0.05)
    assert ch.stale
    # the late OK to Se arrives with the answer to the probe, then a late answer to an older probe
    t.script.append([b"OK", b"SN1", b"SN1"])
    t.script.append([b"7"])
    assert ch.transact(b"\x1bRco;c\r", 0.05).text == "7"
    assert t.written[-2:] == [b"\x1bRsn\r", b"\x1bRco;c\r"] and not ch.stale


def test_a_different_printer_is_named_when_the_probe_does_not_match() -> None:
    t = ScriptedTransport()
    ch = CommandChannel(t)
    ch.set_sync(b"\x1bRsn\r", "SN1")
    t.script.append([b"OTHER9"])
    with pytest.raises(ReplyTimeout, match="OTHER9"):
        ch.transact(b"\x1bRco;c\r", 0.05)


# ---------------------------------------------------------------------------------------- status from answers

def status_from(answers: dict[str, str], tmp_path: Path) -> Any:
    t = ScriptedTransport()
    t.answers = {"Rsn": b"SN1", "Rtp": b"Evolis Dualys3", "Rfv": b"1.0", "Pem;2": b"OK",
                 **{q: a.encode("latin-1") for q, a in answers.items()}}
    driver = EvolisDriver("card1", evolis_config(transport="serial", port="/dev/null"), t, tmp_path)
    driver.open()
    return driver.status()


VARIANT_REASONS = {
    "feeder-empty": {Reason.MEDIA_EMPTY},
    "feeder-low": {Reason.MEDIA_LOW},
    "ribbon-end-mark": {Reason.MARKER_SUPPLY_EMPTY},
    "ribbon-low": {Reason.MARKER_SUPPLY_LOW},
    "cover-open": {Reason.COVER_OPEN},
    "jammed-card": {Reason.MEDIA_JAM},
    "head-hot": {Reason.OVERHEAT},
    "needs-cleaning": {Reason.OTHER},
    "stale-feeder-error": set(),       # the feeder sensor says it is fine: a stale last answer is ignored
    "no-external-feeder": set(),
    "ack-nack-framing": set(),
    "primacy-idle": set(),                       # voltages are not read as open/empty; no Sk on this model
    "primacy-card-inside": {Reason.MEDIA_JAM},   # CARD with no card in flight: a card stuck inside
    "primacy-card-jam": {Reason.MEDIA_JAM},
    "primacy-need-cleaning": {Reason.OTHER},
    "primacy-ribbon-counter-zero": {Reason.MARKER_SUPPLY_EMPTY},   # a warning only
}


@pytest.mark.parametrize("variant", sorted(ANSWERS["variants"]))
def test_status_interprets_recorded_answer_shapes(variant: str, tmp_path: Path) -> None:
    st = status_from({**ANSWERS["idle"], **ANSWERS["variants"][variant]}, tmp_path)
    assert {r.keyword for r in st.reasons} == VARIANT_REASONS[variant]
    assert st.counters.fed == 1234
    if variant == "no-external-feeder":
        assert st.hopper_empty is None
    if variant in ("needs-cleaning", "primacy-need-cleaning", "primacy-ribbon-counter-zero"):
        assert st.can_print and st.reasons[0].severity == Severity.WARNING
    if variant in ("primacy-card-inside", "primacy-card-jam"):
        assert not st.can_print
    if variant == "primacy-idle":
        assert st.hopper_empty is None and st.can_print
    if variant == "jammed-card":
        assert st.state == PrinterState.STOPPED


def test_status_asks_every_query_once(tmp_path: Path) -> None:
    t = ScriptedTransport()
    t.answers = {"Rsn": b"SN1", "Rtp": b"M", "Rfv": b"F", "Pem;2": b"OK",
                 **{q: a.encode() for q, a in ANSWERS["idle"].items()}}
    driver = EvolisDriver("card1", evolis_config(transport="serial", port="/dev/null"), t, tmp_path)
    driver.open()
    t.written.clear()
    st = driver.status()
    assert [w[1:-1].decode() for w in t.written] == [*STATUS_QUERIES, *RIBBON_QUERIES]
    assert st.ribbon is not None and st.ribbon.remaining == 150 and st.raw["Rco;p"] == "6170"
    # the ribbon's tag is read once per card or hour, and a query the model lacks is not asked again
    t.written.clear()
    driver.status()
    assert [w[1:-1].decode() for w in t.written] == [q for q in STATUS_QUERIES if q != "Rse;f"]


# ---------------------------------------------------------------------------------------- the card book

def test_the_book_settles_a_card_in_flight(tmp_path: Path) -> None:
    book = CardBook(tmp_path / "book.json")
    book.bind("SN1")
    book.begin(InFlight("j", 1, fed_before=10, panels_before=60, panels_expected=6))
    assert book.printed_known is None
    assert book.settle(fed=11, panels=63, card_inside=True, stopped=False) is None    # still printing
    assert book.settle(fed=11, panels=66, card_inside=False, stopped=False) == "printed"
    assert book.printed == 1 and book.printed_known == 1
    book.begin(InFlight("j", 2, 11, 66, 6))
    assert CardBook(tmp_path / "book.json").in_flight == InFlight("j", 2, 11, 66, 6)   # durable
    assert book.settle(fed=11, panels=66, card_inside=False, stopped=False) == "not_fed"
    book.begin(InFlight("j", 3, 11, 66, 6))
    assert book.settle(fed=12, panels=68, card_inside=True, stopped=True) == "spoiled"
    assert book.printed == 1


def test_another_printer_gets_a_fresh_book_and_cleanings_are_followed(tmp_path: Path) -> None:
    book = CardBook(tmp_path / "book.json")
    book.bind("SN1")
    book.finish(printed=True)
    book.bind("SN2")
    assert book.printed == 0 and CardBook(tmp_path / "book.json").serial == "SN2"
    book.note_cleanings(3, fed=100)
    assert book.since_cleaning(120) is None       # not seen a cleaning happen yet
    book.note_cleanings(4, fed=130)
    assert book.since_cleaning(140) == 10


# ---------------------------------------------------------------------------------------- vendor vocabulary

#: (command, answer, is error, IPP reason or None), each row from a public Evolis source
VENDOR_REPLIES = [
    # success rule: an action succeeded only if its answer starts with OK (Evolis sample SDK CPrinter/CIomem,
    # as the issue reports them; esup-sgc-client compares Scp's answer with "OK")
    ("Ss", "OK", False, None),
    ("Se", "OK", False, None),
    ("Pem", "OK", False, None),
    ("Ss", "FEEDER EMPTY", True, Reason.MEDIA_EMPTY),         # esup-sgc-client: Scp -> "FEEDER EMPTY"
    ("Scp", "FEEDER EMPTY", True, Reason.MEDIA_EMPTY),        # esup-sgc-client EvolisSdkPrinterService
    ("Se", "CARD JAM", True, Reason.MEDIA_JAM),               # sample SDK answer table
    ("Se", "COVER OPEN", True, Reason.COVER_OPEN),            # sample SDK answer table
    ("Ss", "HOPPER DOOR", True, Reason.COVER_OPEN),           # sample SDK answer table
    ("Se", "HOPPER FULL", True, Reason.OTHER),                # sample SDK answer table
    ("Ss", "OPT NOT AVAILABLE", True, Reason.OTHER),          # sample SDK answer table
    ("Se", "ERROR MECA", True, Reason.MEDIA_JAM),             # libevolis strings (PyPI evolis-sdk 9.4.1)
    ("Se", "ERROR CARD", True, Reason.MEDIA_JAM),             # libevolis strings
    ("Ss", "ERROR FEEDER", True, Reason.MEDIA_JAM),           # libevolis strings: a pick failure
    ("Sk", "ERROR CDE", True, Reason.OTHER),                  # libevolis strings: command not supported
    ("Pem", "ERROR PARAMETRES", True, Reason.OTHER),          # libevolis strings
    ("Se", "ERR RIBBON", True, Reason.MARKER_SUPPLY_EMPTY),   # programming guide A5013 (dpavlin/Printer-EVOLIS)
    ("Se", "something else", True, Reason.OTHER),             # the OK rule: any other answer to an action fails
    ("Db", "", True, Reason.OTHER),                           # the OK rule: an empty answer is not OK
    # queries answer values; the known error words are errors
    ("Rlr", "NEED CLEANING", True, Reason.OTHER),             # sample SDK answer table (a warning, below)
    ("Rlr", "CARD", False, None),                             # newer firmware's Rlr;p: a card inside
    ("Rlr", "SMART CARD", False, None),                       # newer firmware's Rlr;p
    ("Rlr", "OK", False, None),                               # newer firmware's Rlr;p: no card
    ("Rlr", "CARD JAM", True, Reason.MEDIA_JAM),              # Rlr;r repeats the last answer
    ("Rse", "5,00 Volts", False, None),                       # programming guide: Rse answers a voltage
    ("Rco", "1234", False, None),                             # guide: counters
    ("Rsn", "ERRATIC", True, Reason.OTHER),                   # guide: anything starting ERR is an error
]


@pytest.mark.parametrize("command, answer, error, reason", VENDOR_REPLIES)
def test_replies_are_classified_as_the_vendor_sources_say(command: str, answer: str, error: bool,
                                                          reason: str | None) -> None:
    reply = parse_reply(answer.encode(), command)
    assert reply.is_error is error
    if reason is not None:
        meaning = classify(reply)
        assert meaning.keyword == reason and meaning.vendor_code == answer
    if answer == "NEED CLEANING":
        assert classify(reply).severity == Severity.WARNING


def test_the_book_leaves_a_panel_count_it_cannot_explain_in_doubt(tmp_path: Path) -> None:
    # sources disagree whether Rco;p counts panels or cards: a mismatch must not become "spoiled"
    book = CardBook(tmp_path / "book.json")
    book.bind("SN1")
    book.begin(InFlight("j", 1, fed_before=10, panels_before=60, panels_expected=6))
    assert book.settle(fed=11, panels=61, card_inside=False, stopped=False) == "in_doubt"
    assert book.printed == 0 and book.doubt is not None and book.in_flight is None
    assert CardBook(tmp_path / "book.json").doubt == InFlight("j", 1, 10, 60, 6)   # durable
    book.begin(InFlight("k", 1, 11, 61, 6))
    assert book.doubt is None


def test_a_card_the_book_leaves_in_doubt_is_left_to_the_operator(tmp_path: Path) -> None:
    t = ScriptedTransport()
    answers = {q: a.encode() for q, a in ANSWERS["idle"].items()}
    t.answers = {"Rsn": b"SN1", "Rtp": b"M", "Rfv": b"F", "Pem;2": b"OK", **answers}
    book = CardBook(tmp_path / "evolis-driver.json")
    book.bind("SN1")
    book.begin(InFlight("j", 1, fed_before=1233, panels_before=6169, panels_expected=6))   # 1 panel moved
    driver = EvolisDriver("card1", evolis_config(transport="serial", port="/dev/null"), t, tmp_path)
    driver.open()
    st = driver.status()
    # printed did not move and fed is withheld: the station's settle_in_doubt leaves it to the operator
    assert st.counters.printed == 0 and st.counters.fed is None


def test_a_ribbon_counter_at_zero_alone_is_a_warning(tmp_path: Path) -> None:
    st = status_from({**ANSWERS["idle"], "Rco;l": "0"}, tmp_path)
    ribbon = next(r for r in st.reasons if r.keyword == Reason.MARKER_SUPPLY_EMPTY)
    assert ribbon.severity == Severity.WARNING and st.can_print


def test_an_old_firmware_err_card_alone_does_not_stop_the_printer(tmp_path: Path) -> None:
    # the guide: ERR CARD to Rlr;p may be a card waiting in the feeder on old firmware
    st = status_from({**ANSWERS["idle"], "Rlr;p": "ERR CARD"}, tmp_path)
    assert st.can_print and all(r.severity != Severity.ERROR for r in st.reasons)
    st = status_from({**ANSWERS["idle"], "Rlr;p": "CARD"}, tmp_path / "new")
    assert Reason.MEDIA_JAM in {r.keyword for r in st.errors}


def test_a_supervised_printer_is_not_taken_over(tmp_path: Path) -> None:
    t = ScriptedTransport()
    t.answers = {"Rsn": b"SN1", "Rtp": b"M", "Rfv": b"F", "Rem": b"38",
                 **{q: a.encode() for q, a in ANSWERS["idle"].items()}}
    driver = EvolisDriver("card1", evolis_config(transport="serial", port="/dev/null"), t, tmp_path)
    driver.open()
    assert b"\x1bPem;2\r" not in t.written
    st = driver.status()
    assert not st.can_print and any(r.vendor_code == "Rem 38" for r in st.reasons)
    diag = driver.diagnostics()
    assert diag["error_management"]["supervised"] is True
    assert any(e["kind"] == "supervised" and "Evolis Print Center" in e["message"] for e in diag["recent_errors"])
    driver.close()
    assert not any(w.startswith(b"\x1bPem") for w in t.written)


def test_the_error_management_mode_found_is_restored_on_close(tmp_path: Path) -> None:
    t = ScriptedTransport()
    t.answers = {"Rsn": b"SN1", "Rtp": b"M", "Rfv": b"F", "Rem": b"0;0", "Pem;2": b"OK", "Pem;0": b"OK"}
    driver = EvolisDriver("card1", evolis_config(transport="serial", port="/dev/null"), t, tmp_path)
    driver.open()
    driver.close()
    assert [w for w in t.written if w.startswith(b"\x1bPem")] == [b"\x1bPem;2\r", b"\x1bPem;0\r"]
