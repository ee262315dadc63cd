"""The diagnostics document of one printer, as `GET /api/v1/printers/{name}/diagnostics` returns it.

It puts together what the station knows (identity, state, counters, supplies, link health), the
durable history (printer_events, attempts, ledger), the remedies table, and the driver's own
`diagnostics()` report. Nothing in it is personal data: jobs appear by id only.
"""
from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from printd.diagnostics.history import fault_events, state_history
from printd.diagnostics.remedies import explain
from printd.drivers.base import DEFAULT_SEVERITY, Severity

if TYPE_CHECKING:
    from printd.station import Station
    from printd.worker import PrinterWorker

#: how many recent errors the document lists
RECENT_ERRORS = 20
HISTORY_DAYS = 30


def jsonable(value: Any, depth: int = 0) -> Any:
    """A driver's raw report made safe for JSON: no bytes, no NaN, no objects, bounded depth."""
    if depth > 8:
        return repr(value)[:200]
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes | bytearray):
        return {"hex": bytes(value[:256]).hex(), "length": len(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else list(value)
        return [jsonable(v, depth + 1) for v in items]
    return str(value)


def _severity(keyword: str) -> str:
    return DEFAULT_SEVERITY.get(keyword, Severity.ERROR).value


async def _driver_report(w: PrinterWorker) -> dict[str, Any]:
    """The driver's own diagnostics(), asked only when the printer is idle (one command in flight)."""
    if w.busy:
        return {"unavailable": f"the printer is busy ({w.exclusive or 'printing'}); its driver report is "
                               "read when it is idle"}
    try:
        report = await w.run_exclusive("diagnostics", w.driver.diagnostics,
                                       timeout=w.driver.status_timeout_s * 3, reads_only=True)
    except Exception as exc:  # noqa: BLE001 - a failing report must not hide the rest of the document
        return {"error": f"{type(exc).__name__}: {exc}"}
    return jsonable(report) if isinstance(report, dict) else {"report": jsonable(report)}


#: the same reason again within this many seconds (or for the same job) is the same episode
EPISODE_S = 120.0


def _other_vendor_code(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Two driver reports of the same reason with different vendor codes are two faults.

    (`offline` because the cable is out, then `offline/wrong-printer` because a stranger answers.)
    A history entry carries no vendor code and joins whichever episode it falls in.
    """
    return (a["source"] == b["source"] == "printer" and a.get("vendor_code") != b.get("vendor_code"))


def one_per_episode(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Newest first, one entry per fault episode.

    One jam reaches the technician several ways: the driver's fault during the card, and the printer's
    state changes while it stays stopped (`stopped: media-jam`, then `stopped: media-jam, paused` ...).
    Entries with the same reason (and, from the driver, the same vendor code) for the same job, or within
    EPISODE_S of each other, are one episode:
    kept once, from the source that says most (the driver's, with its vendor code and message), with
    `repeats` counting what was folded in and `first_at` when it began.
    """
    out: list[dict[str, Any]] = []
    for e in sorted(errors, key=lambda x: x["at"]):
        last = out[-1] if out else None
        same = last is not None and last["reason"] == e["reason"] and not _other_vendor_code(last, e) and (
            (e.get("job_id") and e.get("job_id") == last.get("job_id")) or e["at"] - last["at"] <= EPISODE_S)
        if not same:
            out.append({**e, "first_at": e["at"], "repeats": 1})
            continue
        assert last is not None
        richer = e if (e["source"] == "printer" and last["source"] != "printer") else last
        out[-1] = {**richer, "at": e["at"], "first_at": last["first_at"], "repeats": last["repeats"] + 1,
                   "job_id": last.get("job_id") or e.get("job_id")}
    out.reverse()
    return out


async def collect(station: Station, name: str) -> dict[str, Any]:
    """Everything a technician needs about printer `name`, as one JSON-ready document."""
    w = station.worker(name)
    iso = station.clock.iso
    now = time.time()
    await station.fresh_views()
    view = station.printer_view(w)
    db = station.database
    assert db is not None, "the station is not started"
    await station.flush_history()   # the rows kept since the last flush belong in it
    history = await station.db(state_history, db, name, station.clock, now, HISTORY_DAYS)
    events = await station.db(fault_events, db, name, RECENT_ERRORS)
    driver = await _driver_report(w)
    ident = w.identity
    st = w.status

    reasons = [{"keyword": r.keyword, "severity": r.severity.value, "vendor_code": r.vendor_code,
                "message": r.message, **_help(r.keyword, r.vendor_code)} for r in w.reasons]
    errors: list[dict[str, Any]] = [
        {"at": e["at"], "source": "printer", "reason": e.get("reason") or "other",
         "vendor_code": e.get("vendor_code"), "message": e.get("message"), "job_id": e.get("job_id")}
        for e in list(w.recent_errors)]
    for e in events:
        stopping = [r for r in e["reasons"] if _severity(r) == Severity.ERROR.value] or [e["state"]]
        errors.append({"at": e["at"], "source": "history", "reason": stopping[0], "vendor_code": None,
                       "message": f"{e['state']}: {', '.join(e['reasons']) or '-'}", "job_id": e["job_id"]})
    errors = one_per_episode(errors)
    recent = [{**e, "at": iso(e["at"]), "first_at": iso(e["first_at"]), **_help(e["reason"], e["vendor_code"])}
              for e in errors[:RECENT_ERRORS]]

    return {
        "printer": name,
        "driver": w.driver_kind,
        "simulated": w.simulated,
        "generated_at": iso(now),
        "identity": {"model": ident.model if ident else None, "serial": ident.serial if ident else None,
                     "firmware": ident.firmware if ident else None,
                     "vendor": ident.vendor if ident else None},
        "link": {"online": w.online, "last_seen_at": iso(w.last_seen_at), "offline_code": w.offline_code,
                 **jsonable(dict(ident.link) if ident else {})},
        "state": {"state": view["state"], "accepting": w.accepting, "enabled": w.enabled,
                  "pause_after_current": w.pause_after_current, "current_job": view["current_job"],
                  "technician_call": w.exclusive, "reasons": reasons},
        "counters": {**view["counters"], "fed": st.counters.fed if st else None},
        "supplies": {"ribbon": view["ribbon"], "film": view["film"], "hopper": view["hopper"]},
        "recent_errors": recent,
        "communication": {**w.health.as_dict(), "online": w.online, "poll_interval_s": w.poll_interval_s,
                          "status_timeout_s": w.driver.status_timeout_s,
                          "card_timeout_s": w.driver.card_timeout_s},
        "history": history,
        "raw_status": jsonable(dict(st.raw)) if st else None,
        "driver_report": driver,
    }


def _help(keyword: str, vendor_code: str | None) -> dict[str, Any]:
    text = explain(keyword, vendor_code)
    return {"help": {"matched": text["matched"], "known": text["known"], "id": text["id"], "en": text["en"]}}
