"""An Evolis printer's status from its answers to the status queries (driver.py asks them).

One function, `interpret`, turns the answers into a `PrinterStatus`: sensor reasons, the cached
ribbon answers, the faults held by `sensors.HeldFaults`, and the settling of a card left in
flight (`cardbook.CardBook`). docs/drivers-evolis.md, "Faults", lists every rule and its source.
"""
from __future__ import annotations

import logging

from printd.drivers.base import Counters, PrinterState, PrinterStatus, Reason, Severity, StateReason, Supply
from printd.drivers.evolis.cardbook import CardBook
from printd.drivers.evolis.protocol import Reply, classify
from printd.drivers.evolis.sensors import HeldFaults, ambiguous_card, card_inside

log = logging.getLogger(__name__)

#: ribbon prints left at or below which the ribbon is reported low
RIBBON_LOW = 20
#: `Rem`: the Evolis supervision service owns the printer (evolis.h EVOLIS_EM_SUPERVISED)
SUPERVISED_MODE = 38
#: reasons read from the last answer (`Rlr;r`); feeder, cover and ribbon have sensors of their own
_FROM_LAST_ANSWER = frozenset({Reason.MEDIA_JAM, Reason.OVERHEAT})


def answer_int(reply: Reply | None) -> int | None:
    """A counter's value, or None for an error or a non-number."""
    text = reply.text.strip() if reply is not None and not reply.is_error else ""
    return int(text) if text.isdigit() else None


def interpret(replies: dict[str, Reply], *, name: str, book: CardBook, held: HeldFaults, supervised: bool,
              ribbon_set: str, card_type: str, raw: dict[str, str]) -> PrinterStatus:
    """The status the answers describe; settles `book`'s card in flight and reviews `held` faults."""
    reasons: list[StateReason] = []

    def add(reason: StateReason) -> None:
        if all(r.keyword != reason.keyword for r in reasons):
            reasons.append(reason)

    def text(query: str) -> str:
        reply = replies.get(query)
        return reply.text.strip() if reply is not None and not reply.is_error else ""

    if supervised:
        add(StateReason.of(Reason.OTHER, f"Rem {SUPERVISED_MODE}",
                           "the Evolis supervision service owns this printer: stop Evolis Print Center "
                           "(evoservice) or take the printer out of its supervision"))
    cover = text("Rse;o").upper()
    if cover.startswith("OPEN"):
        add(StateReason.of(Reason.COVER_OPEN, "Rse;o " + cover, "the cover is open: close it"))
    feeder = text("Sk;f")
    hopper_empty = None if not feeder.isdigit() else feeder != "0"
    if hopper_empty:
        add(StateReason.of(Reason.MEDIA_EMPTY, "Sk;f " + feeder, "the feeder is empty: load blank cards"))
    elif (warning := text("Sk;w")).isdigit() and warning != "0":
        add(StateReason.of(Reason.MEDIA_LOW, "Sk;w " + warning, "the feeder is nearly empty"))
    left = answer_int(replies.get("Rco;l"))
    rcr = replies.get("Rcr")
    if rcr is not None and rcr.is_error:
        add(StateReason.of(Reason.MARKER_SUPPLY_EMPTY, "Rcr " + rcr.vendor_code,
                           "the ribbon is finished: replace it"))
    elif left == 0:
        # ribbon counters are unreliable (esup-sgc-client): a stop is the printer's to make
        add(StateReason(Reason.MARKER_SUPPLY_EMPTY, Severity.WARNING, "Rco;l 0",
                        "the ribbon counter reads 0: check the ribbon (printing goes on until the printer "
                        "refuses)"))
    elif left is not None and left <= RIBBON_LOW:
        add(StateReason.of(Reason.MARKER_SUPPLY_LOW, f"Rco;l {left}",
                           f"{left} prints left on the ribbon"))
    condition = replies.get("Rlr;r")
    if condition is not None and condition.is_error:
        # `Rlr` is the printer's last answer: only what no other sensor reports is taken from it
        meaning = classify(condition)
        if meaning.keyword in _FROM_LAST_ANSWER or meaning.severity == Severity.WARNING:
            add(meaning)
    inside_reply = replies.get("Rlr;p")
    inside_text = inside_reply.text.strip().upper() if inside_reply is not None else ""
    inside = None if inside_reply is None or inside_reply.nack else card_inside(inside_text)
    fed, panels = answer_int(replies.get("Rco;c")), answer_int(replies.get("Rco;p"))
    for reason in held.review({q: replies[q].text.strip() for q in
                               ("Rse;f", "Rse;o", "Sk;f", "Rlr;p", "Rlr;r") if q in replies}):
        add(reason)
    if any(r.keyword == Reason.MEDIA_EMPTY for r in reasons) and hopper_empty is None:
        hopper_empty = True
    stopped = any(r.severity == Severity.ERROR for r in reasons)
    if book.in_flight is not None:
        outcome = book.settle(fed, panels, inside, stopped)
        if outcome:
            log.info("%s: card in flight settled from the printer's counters: %s", name, outcome)
    jammed = any(r.keyword == Reason.MEDIA_JAM for r in reasons)
    if inside and book.in_flight is None and not jammed:
        # the guide allows `ERR CARD` to be a card waiting in the feeder: no stop on that alone
        severity = Severity.WARNING if ambiguous_card(inside_text) else Severity.ERROR
        add(StateReason(Reason.MEDIA_JAM, severity, "Rlr;p " + inside_text,
                        "a card is stuck inside: remove it"))
    stopped = any(r.severity == Severity.ERROR for r in reasons)
    book.note_cleanings(answer_int(replies.get("Rco;n")), fed)
    state = (PrinterState.STOPPED if stopped else
             PrinterState.PRINTING if inside else PrinterState.IDLE)
    rr = replies.get("Rr")
    ribbon_type = rr.text.strip() if rr is not None and rr.ok else ribbon_set
    return PrinterStatus(
        state=state, reasons=tuple(reasons), ribbon=Supply(ribbon_type.upper(), left, None),
        hopper_card_type=card_type, hopper_count=None, hopper_empty=hopper_empty,
        # a card the book could not settle is the operator's: without `fed` the station leaves it to them
        counters=Counters(fed=None if book.doubt else fed, printed=book.printed_known,
                          since_cleaning=book.since_cleaning(fed)),
        raw=dict(raw))
