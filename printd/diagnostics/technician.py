"""Technician actions on one printer: the test card and raw vendor commands.

Both run through the printer's own worker as an exclusive call: never while a job's card is
printing (409), and the dispatcher gives the printer no job until they return. The job queue is not
involved, so a test card never shows up as a job, but its blank is booked in the ledger as `test`
right where the printer's answer is known, and every action lands in the audit log.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from printd.cards.art import test_card
from printd.drivers.base import Card, supports_raw
from printd.errors import Conflict, Invalid, PrinterError, PrinterFault, PrinterOffline, PrinterTimeout
from printd.queue.models import new_ulid

if TYPE_CHECKING:
    from printd.station import Station
    from printd.worker import PrinterWorker

log = logging.getLogger("printd.diagnostics")

MAX_RAW_REPLY = 4000


@dataclass(frozen=True)
class TestCardResult:
    """What happened to a test card; `ledger_entry_ids` book its blank (empty when none was used)."""

    printer: str
    test_id: str
    card_type: str
    outcome: str               # printed | spoiled | not_fed | in_doubt
    reason: str | None
    message: str
    at: str | None
    duration_s: float
    ledger_entry_ids: list[int]
    vendor_code: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _card_type(station: Station, w: PrinterWorker) -> str:
    """The card type the ledger says is in the printer's hopper (the blank a test card will use)."""
    held = station.stock.available(w.name)   # a blank a card in doubt may have used is not offered
    if not held:
        raise Conflict(f"printer {w.name}'s hopper holds no blanks by the ledger (or only cards in doubt); load "
                       "blanks (and book the load), or settle the cards in doubt, before a test card",
                       code="insufficient_stock", field="name")
    preferred = w.status.hopper_card_type if w.status and w.status.hopper_card_type in held else None
    return preferred or max(held, key=lambda t: held[t])


async def print_test_card(station: Station, name: str, actor: str) -> TestCardResult:
    """Print the generated test card on `name` and book its blank as `test`."""
    w = station.worker(name)
    if not w.online:
        raise Conflict(f"printer {name} is offline; a test card needs a printer that answers",
                       code="printer_offline", field="name")
    if w.busy:
        raise Conflict(f"printer {name} is printing; try again when it is idle", code="printer_busy",
                       field="name")
    card_type = await station.db(_card_type, station, w)
    now = time.time()
    when = station.clock.iso(now) or ""
    png = await asyncio.get_running_loop().run_in_executor(None, test_card, name, when)
    test_id = "test_" + new_ulid()
    card = Card(job_id=test_id, attempt=1, card_type=card_type, front_png=png,
                title=f"printd test card {name}", test=True)
    t0 = time.monotonic()
    outcome, message = "printed", "test card printed"
    reason: str | None = None
    vendor: str | None = None
    fed: bool | None = True
    try:
        await w.run_exclusive("test-print", w.driver.print_card, card, timeout=w.driver.card_timeout_s)
    except (PrinterFault, PrinterOffline) as exc:
        fed, reason, vendor = exc.card_fed, (exc.reasons[0] if exc.reasons else "other"), exc.vendor_code
        message = str(exc)
    except PrinterTimeout as exc:
        fed, reason, message = None, "timeout", str(exc)
    except PrinterError as exc:
        fed, reason, vendor, message = None, "other", exc.vendor_code, str(exc)
    if reason is not None:
        outcome = {True: "spoiled", False: "not_fed", None: "in_doubt"}[fed]
        w.recent_errors.append({"at": time.time(), "reason": reason, "message": f"test card: {message}",
                                "vendor_code": vendor, "job_id": test_id})
    # the blank is booked where the printer's answer is known; a card in doubt books nothing until
    # someone looks (the message says so), exactly as an in_doubt job would
    ids: list[int] = []
    if fed is True:
        ids = await station.db(station.stock.book_test_card, name, card_type, actor, outcome == "printed")
        station.events.publish("stock", {"changed_at": station.clock.iso(time.time())})
    if outcome == "in_doubt":
        message += ("; nobody knows whether a blank was used: look at the printer, and if a card came out "
                    "book it with a stock adjustment")
    result = TestCardResult(printer=name, test_id=test_id, card_type=card_type, outcome=outcome,
                            reason=reason, message=message, at=when,
                            duration_s=round(time.monotonic() - t0, 3), ledger_entry_ids=ids,
                            vendor_code=vendor)
    await station.audit(actor, "printer.test_print", name,
                        {"test_id": test_id, "outcome": outcome, "reason": reason, "card_type": card_type,
                         "ledger_entry_ids": ids})
    log.info("%s: test card %s by %s: %s", name, test_id, actor, outcome)
    return result


async def raw_command(station: Station, name: str, command: str, actor: str) -> dict[str, Any]:
    """Send one vendor command (e.g. Evolis `Rfv`) and return the printer's reply; audited either way."""
    w = station.worker(name)
    driver = w.driver
    if not supports_raw(driver):
        raise Conflict(f"printer {name} uses the {w.driver_kind} driver, which takes no raw commands; "
                       "only drivers with a vendor command set (evolis) do", code="raw_not_supported",
                       field="name")
    t0 = time.perf_counter()
    try:
        reply = await w.run_exclusive("raw", driver.raw_command, command, timeout=w.driver.card_timeout_s)
    except Conflict:
        await station.audit(actor, "printer.raw", name, {"command": command, "refused": "printer busy"})
        raise
    except ValueError as exc:   # the driver refused the command text (e.g. an embedded ESC or ';')
        await station.audit(actor, "printer.raw", name, {"command": command, "error": str(exc)[:500]})
        raise Invalid(f"the printer's command set does not accept this command: {exc}", code="invalid_command",
                      field="command") from None
    except Exception as exc:
        await station.audit(actor, "printer.raw", name, {"command": command, "error": str(exc)[:500]})
        raise
    text = reply if isinstance(reply, str) else repr(reply)
    ms = round((time.perf_counter() - t0) * 1000, 1)
    await station.audit(actor, "printer.raw", name, {"command": command, "reply": text[:500]})
    log.info("%s: raw command by %s: %r -> %r", name, actor, command, text[:80])
    return {"printer": name, "command": command, "reply": text[:MAX_RAW_REPLY], "duration_ms": ms}
