"""Stock alerts: what an operator should act on about blangko, and the `alert` events when that changes.

Codes:
- `safe_low`: the safe holds fewer blanks of a card type than `[stock] safe_low`.
- `hopper_low` / `hopper_empty`: a printer's hopper holds fewer than `[stock] hopper_low` / none, by the
  ledger.
- `queue_exceeds_stock`: more jobs of a card type wait (queued or printing) than there are blanks of it.
- `count_mismatch`: the ledger and the printer's hopper sensor disagree (the ledger says cards are in
  the hopper and the sensor says it is empty, or the other way round). Dispatch trusts the sensor
  (`PrinterWorker.sensor_card_types()` gives nothing while it says empty); the alert asks for a count
  and an adjustment.
- `custody_overdue`: custody (`rusak`) still holds cards that came in before today. Spoiled and surrendered
  cards are destroyed daily, before witnesses (SE Mendagri 470.13/11176/SJ; see docs/stock.md), or
  returned to the ministry.

Only card types the station uses are checked: those with blanks, in a printer's config, or with jobs.
"""
from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from printd.config import StockConfig
from printd.events import Event

log = logging.getLogger("printd.blangko.stock")

#: the shortest time between two checks, so a burst of events costs one check
MIN_INTERVAL_S = 0.2


@dataclass(frozen=True, order=True)
class Alert:
    """One alert as the API shows it."""

    code: str
    card_type: str | None
    printer: str | None
    message: str

    @property
    def key(self) -> tuple[str, str | None, str | None]:
        """What the alert is about (its message may change with the counts)."""
        return (self.code, self.card_type, self.printer)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "card_type": self.card_type, "printer": self.printer}


@dataclass(frozen=True)
class PrinterSnapshot:
    """What the alerts need to know about one printer, read on the event loop."""

    name: str
    card_type: str          # the sensor's card type, else the configured one
    online: bool
    busy: bool
    sensor_empty: bool | None


def compute_alerts(balances: Mapping[str, Mapping[str, Any]], pending: Mapping[str, int],
                   printers: Sequence[PrinterSnapshot], cfg: StockConfig,
                   custody_overdue: Mapping[str, int] | None = None) -> list[Alert]:
    """The alerts for these balances ({card_type: {"safe", "hoppers", "total"}}), pending jobs per card
    type, printers, and the cards per card type custody holds from before today. Pure: no I/O."""
    in_use = {ct for ct, b in balances.items() if b["total"] != 0 or b["safe"] != 0
              or any(b["hoppers"].values())}
    in_use |= {p.card_type for p in printers} | {ct for ct, n in pending.items() if n > 0}
    out: list[Alert] = []
    for ct in sorted(in_use):
        b = balances.get(ct, {"safe": 0, "hoppers": {}, "total": 0})
        if b["safe"] < cfg.safe_low:
            out.append(Alert("safe_low", ct, None,
                             f"the safe holds {b['safe']} {ct} blanks, under the minimum of {cfg.safe_low}; "
                             "order a delivery"))
        waiting = pending.get(ct, 0)
        if waiting > b["total"]:
            out.append(Alert("queue_exceeds_stock", ct, None,
                             f"{waiting} {ct} jobs wait but the station holds only {b['total']} {ct} blanks; "
                             f"{waiting - b['total']} cannot be printed until a delivery"))
    for ct, n in sorted((custody_overdue or {}).items()):
        if n > 0:
            out.append(Alert("custody_overdue", ct, None,
                             f"custody (rusak) still holds {n} {ct} cards from before today; destroy them with "
                             "witnesses (daily) or return them, each under a berita acara"))
    for p in printers:
        held = {ct: balances[ct]["hoppers"].get(p.name, 0) for ct in balances
                if balances[ct]["hoppers"].get(p.name, 0) != 0}
        shown = held or {p.card_type: 0}
        for ct, n in shown.items():
            if n < cfg.hopper_low:
                what = "is empty" if n == 0 else f"holds {n} {ct} blanks"
                out.append(Alert("hopper_empty" if n == 0 else "hopper_low", ct, p.name,
                                 f"printer {p.name}'s hopper {what} by the ledger (minimum {cfg.hopper_low}); "
                                 "load blanks from the safe"))
        if not p.online or p.sensor_empty is None:
            continue
        # the card in flight is still in the ledger's hopper until its attempt ends
        ledger_count = sum(n for n in held.values() if n > 0) - (1 if p.busy else 0)
        if p.sensor_empty and ledger_count > 0:
            ct = next(t for t, n in held.items() if n > 0)
            out.append(Alert("count_mismatch", ct, p.name,
                             f"the ledger says {ledger_count} {ct} blanks are in printer {p.name}'s hopper but its "
                             "sensor says empty; count the hopper and record an adjustment "
                             "(no work goes to it meanwhile)"))
        elif not p.sensor_empty and ledger_count <= 0 and not p.busy:
            out.append(Alert("count_mismatch", p.card_type, p.name,
                             f"printer {p.name}'s sensor sees cards but the ledger has none in its hopper; "
                             "record the load (or an adjustment) so it can print"))
    return sorted(out)


def _pending(station: Any) -> dict[str, int]:
    """Jobs waiting for a blank or on one now, per card type: the live queue's counts (kept with every
    change, resynchronised with the database every QUEUE_RESYNC_S) and the cards in the printers. A
    COUNT over the jobs table here cost the database thread ~1 ms per 2,000 queued jobs at every event
    (issue 20)."""
    pending = collections.Counter(station.queue.by_card_type())
    for w in station.workers.values():
        if w.current_job is not None:
            pending[w.current_job.card_type] += 1
    return dict(pending)


def snapshots(station: Any) -> list[PrinterSnapshot]:
    """The printers as the alerts see them (call on the event loop)."""
    out = []
    for w in station.workers.values():
        st = w.status
        out.append(PrinterSnapshot(name=w.name, card_type=(st.hopper_card_type if st and st.hopper_card_type
                                                            else w.default_card_type),
                                   online=w.online and st is not None, busy=w.busy,
                                   sensor_empty=st.hopper_empty if st is not None else None))
    return out


async def evaluate(station: Any, balances: Mapping[str, Mapping[str, Any]] | None = None) -> list[Alert]:
    """The station's alerts now."""
    if balances is None:
        balances = await station.db(station.stock.balances)
    pending = _pending(station)
    overdue = await station.db(custody_overdue, station.store.db, station.clock.day())
    return compute_alerts(balances, pending, snapshots(station), station.settings.stock, overdue)


def custody_overdue(db: Any, today: str) -> dict[str, int]:
    """Cards per card type in custody that came in before `today`: all that came in, less today's, less
    all that left (cards leave oldest first). Three queries on the `rusak` and day indexes, not a scan of
    the whole ledger: this runs after every job event."""
    out: dict[str, int] = {}
    for sql, args, sign in (
            ("SELECT card_type, SUM(count) FROM ledger WHERE dst = 'rusak' GROUP BY card_type", (), 1),
            ("SELECT card_type, SUM(count) FROM ledger WHERE src = 'rusak' GROUP BY card_type", (), -1),
            ("SELECT card_type, SUM(count) FROM ledger WHERE day = ? AND dst = 'rusak' GROUP BY card_type",
             (today,), -1)):
        for ct, n in db.query(sql, args):
            out[ct] = out.get(ct, 0) + sign * int(n)
    return {ct: n for ct, n in out.items() if n > 0}


class AlertMonitor:
    """Re-checks the alerts after stock, printer and job events; publishes `alert` when the set changes.

    The check runs at most once per MIN_INTERVAL_S however many events arrive, one at a time.
    """

    def __init__(self, station: Any) -> None:
        self.station = station
        self.current: list[Alert] | None = None
        self._dirty = False
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    def start(self) -> None:
        self.station.events.listen(self._on_event)
        self._kick()

    async def stop(self) -> None:
        self._stopped = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001, S110 - stopping: its end is moot
                pass

    def _on_event(self, event: Event) -> None:
        if event.type in ("job", "printer", "stock"):
            self._kick()

    def _kick(self) -> None:
        self._dirty = True
        if not self._stopped and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._run(), name="stock-alerts")

    async def _run(self) -> None:
        while self._dirty and not self._stopped:
            self._dirty = False
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("stock alert check failed")
            await asyncio.sleep(MIN_INTERVAL_S)

    async def check(self) -> list[Alert]:
        """Evaluate now; publish an `alert` event if the alerts differ from the last ones."""
        alerts = await evaluate(self.station)
        if alerts != self.current:
            before = {a.key for a in self.current or []}
            after = {a.key for a in alerts}
            for a in alerts:
                if a.key not in before:
                    log.warning("stock alert %s: %s", a.code, a.message)
            for key in sorted(before - after, key=str):
                log.info("stock alert cleared: %s (%s %s)", key[0], key[1] or "", key[2] or "")
            if self.current is not None or alerts:
                self.station.events.publish("alert", {"alerts": [a.as_dict() for a in alerts]})
            self.current = alerts
        return alerts


def install(app: Any) -> None:
    """Start the monitor with the app (kept on `app.state.stock_alerts`)."""

    async def on_start(app_: Any) -> None:
        monitor = AlertMonitor(app_.state.station)
        app_.state.stock_alerts = monitor
        monitor.start()

    async def on_stop(app_: Any) -> None:
        monitor = getattr(app_.state, "stock_alerts", None)
        if monitor is not None:
            await monitor.stop()

    app.state.on_start.append(on_start)
    app.state.on_stop.append(on_stop)
