"""What the office's IT reads in the journal: printer faults, spoiled blanks, cards in doubt, operator actions.

The daemon's own modules log connections and errors; this adds the operations story, one line per
event, from the station's event bus and its audit log, so `journalctl -u printd` tells what happened
without the database. Personal data never goes in: jobs by id only, free-text details (notes, reasons
typed by an operator) left out, and the NIK mask of printd/ops/logs.py still applies to every line.
"""
from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

from printd.events import Event

log = logging.getLogger("printd.journal")

#: printer reasons someone else already logs (offline: the worker; paused: the operator's action)
_NOT_FAULTS = frozenset({"offline", "paused"})
#: attempt outcomes worth a line (printed cards are the normal case and are counted by metrics)
_OUTCOME_TEXT = {
    "spoiled": "blank spoiled",
    "not_fed": "card not fed, job back to the queue",
    "in_doubt": "card in doubt, waiting to be settled",
}
#: audit detail keys that carry no personal data and help the reader
_SAFE_DETAIL = ("when", "outcome", "kind", "duration_s", "card_type", "count", "delta", "event_id", "role")
_REMEMBER = 5000


def log_action(actor: str, action: str, target: str | None, detail: object) -> None:
    """One line per audited action (resolve, hold, cancel, pause, reject, stock ...), without free text."""
    parts = []
    if isinstance(detail, dict):
        parts = [f"{k}={detail[k]}" for k in _SAFE_DETAIL if detail.get(k) is not None]
    log.info("%s by %s%s%s", action, actor, f" on {target}" if target else "",
             f" ({', '.join(parts)})" if parts else "")


class JournalListener:
    """An EventBus listener: logs faults as they begin and end and each spoiled, unfed or doubtful card once."""

    def __init__(self) -> None:
        self._faults: dict[str, set[str]] = {}
        self._logged: OrderedDict[tuple[str, int, str], None] = OrderedDict()

    def __call__(self, event: Event) -> None:
        if event.type == "printer":
            self._printer(event.data)
        elif event.type == "job":
            self._job(event.data)

    def _printer(self, data: dict[str, Any]) -> None:
        name = str(data.get("name"))
        details = {d["keyword"]: d for d in data.get("reason_details") or []
                   if d.get("severity") == "error" and d.get("keyword") not in _NOT_FAULTS}
        before = self._faults.get(name, set())
        now = set(details)
        for keyword in sorted(now - before):
            d = details[keyword]
            extra = ", ".join(str(x) for x in (d.get("vendor_code"), d.get("message")) if x)
            job = data.get("current_job")
            log.warning("%s: fault %s%s%s", name, keyword, f" ({extra})" if extra else "",
                        f" during job {job}" if job else "")
        for keyword in sorted(before - now):
            log.info("%s: fault %s cleared", name, keyword)
        self._faults[name] = now

    def _job(self, data: dict[str, Any]) -> None:
        attempts = data.get("attempts") or []
        if not attempts:
            return
        last = attempts[-1]   # the one that just changed; earlier attempts were logged when they ended
        outcome = str(last.get("outcome"))
        if outcome not in _OUTCOME_TEXT:
            return
        key = (str(data.get("id")), int(last.get("n", 0)), outcome)
        if key in self._logged:
            return
        self._logged[key] = None
        if len(self._logged) > _REMEMBER:
            self._logged.popitem(last=False)
        level = logging.INFO if outcome == "not_fed" else logging.WARNING
        log.log(level, "%s: %s: job %s attempt %d (%s, %s), job now %s", last.get("printer"),
                _OUTCOME_TEXT[outcome], key[0], key[1], last.get("reason") or "no reason given",
                data.get("card_type"), data.get("state"))
