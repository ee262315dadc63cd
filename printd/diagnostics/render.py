"""The diagnostics document as text for a terminal: `printd diag NAME`.

Sections in a fixed order, headed in English and Indonesian; current reasons carry their full
explanation and remedy in both languages, past errors their title in both.
"""
from __future__ import annotations

import json
import textwrap
from typing import Any

WIDTH = 100
ACTION = {"id": "Tindakan", "en": "What to do"}
MAX_DRIVER_LINES = 60


def duration(seconds: float | None) -> str:
    """`0.4 s`, `12 m 05 s`, `3 h 02 m`, `4 d 07 h`."""
    if seconds is None:
        return "-"
    s = float(seconds)
    if s < 60:
        return f"{s:.1f} s"
    m, sec = divmod(int(s), 60)
    h, m = divmod(m, 60)
    d, h = divmod(h, 24)
    if d:
        return f"{d} d {h:02d} h"
    if h:
        return f"{h} h {m:02d} m"
    return f"{m} m {sec:02d} s"


def _v(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _wrap(text: str, indent: int, hanging: int | None = None) -> list[str]:
    pad = " " * indent
    more = " " * (indent + 2 if hanging is None else hanging)
    # paths and vendor codes must stay whole: never break at their hyphens
    return textwrap.wrap(text, WIDTH, initial_indent=pad, subsequent_indent=more, break_on_hyphens=False,
                         break_long_words=False) or [pad]


def _section(out: list[str], en: str, id_: str) -> None:
    out.append("")
    out.append(f"== {en} / {id_}")


def _pairs(out: list[str], pairs: list[tuple[str, Any]]) -> None:
    width = max(len(k) for k, _ in pairs)
    for key, value in pairs:
        out.append(f"  {key:<{width}}  {_v(value)}")


def _supply(s: dict[str, Any] | None) -> str:
    if not s:
        return "-"
    rem, cap = s.get("remaining"), s.get("capacity")
    pct = f" ({rem * 100 // cap}%)" if isinstance(rem, int) and isinstance(cap, int) and cap else ""
    kind = f"{s['type']} " if s.get("type") else ""
    return f"{kind}{_v(rem)}/{_v(cap)}{pct}"


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict) and value:
        out: list[tuple[str, str]] = []
        for k, v in value.items():
            out += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    return [(prefix or "-", json.dumps(value, ensure_ascii=False, sort_keys=True, default=str))]


def render_text(doc: dict[str, Any]) -> str:
    """The readable layout of one printer's diagnostics document."""
    out: list[str] = []
    sim = ", simulated" if doc.get("simulated") else ""
    out.append(f"printd diagnostics: {doc['printer']} ({doc['driver']}{sim}), "
               f"generated {doc['generated_at']}")

    ident = doc["identity"]
    _section(out, "Identity", "Identitas")
    _pairs(out, [("model", ident["model"]), ("serial", ident["serial"]), ("firmware", ident["firmware"]),
                 ("vendor", ident["vendor"])])

    link = doc["link"]
    _section(out, "Link", "Sambungan")
    _pairs(out, [("online", link["online"]), ("last seen", link["last_seen_at"])]
           + ([("offline code", link["offline_code"])] if link.get("offline_code") else [])
           + [(k, v) for k, v in link.items() if k not in ("online", "last_seen_at", "offline_code")])

    state = doc["state"]
    _section(out, "State", "Status")
    _pairs(out, [("state", state["state"]), ("accepting", state["accepting"]), ("enabled", state["enabled"]),
                 ("current job", state["current_job"])]
           + ([("technician call", state["technician_call"])] if state.get("technician_call") else []))
    if not state["reasons"]:
        out.append("  reasons    none: nothing stops this printer / tidak ada gangguan")
    for r in state["reasons"]:
        vendor = f", vendor code {r['vendor_code']}" if r.get("vendor_code") else ""
        message = f": {r['message']}" if r.get("message") else ""
        out.append(f"  - {r['keyword']} [{r['severity']}{vendor}]{message}")
        for lang in ("id", "en"):
            h = r["help"][lang]
            out += _wrap(f"{lang}: {h['title']}. {h['explanation']}", 6, 10)
            out += _wrap(f"{ACTION[lang]}: {h['remedy']}", 10, 10)

    c = doc["counters"]
    _section(out, "Counters", "Penghitung")
    out.append(f"  total {_v(c['total'])}   today {_v(c['today'])}   since cleaning {_v(c['since_cleaning'])}"
               f"   fed {_v(c.get('fed'))}")

    sup = doc["supplies"]
    hopper = sup.get("hopper") or {}
    _section(out, "Supplies", "Bahan")
    _pairs(out, [("ribbon", _supply(sup.get("ribbon"))), ("film", _supply(sup.get("film"))),
                 ("hopper", (f"{_v(hopper.get('card_type'))}: {_v(hopper.get('count'))} by the ledger, "
                             f"{_v(hopper.get('sensor_count'))} by the printer"))])

    _section(out, "Recent errors, newest first", "Kesalahan terakhir")
    if not doc["recent_errors"]:
        out.append("  none / tidak ada")
    for e in doc["recent_errors"]:
        vendor = f" ({e['vendor_code']})" if e.get("vendor_code") else ""
        job = f" job {e['job_id']}" if e.get("job_id") else ""
        seen = f" x{e['repeats']} since {e['first_at']}" if e.get("repeats", 1) > 1 else ""
        line = f"{e['at']}  {e['reason']}{vendor}{job}{seen} [{e['source']}] {e.get('message') or ''}"
        out += _wrap(line.rstrip(), 2)
        out += _wrap(f"id: {e['help']['id']['title']} / en: {e['help']['en']['title']}", 6)

    com = doc["communication"]
    _section(out, "Communication", "Komunikasi")
    out.append(f"  status calls {com['calls']}, errors {com['errors']} ({com['error_ratio'] * 100:.1f}%), "
               f"round trip p50 {_v(com['rtt_ms_p50'])} ms, p95 {_v(com['rtt_ms_p95'])} ms, "
               f"max {_v(com['rtt_ms_max'])} ms")
    out.append(f"  poll every {com['poll_interval_s']} s, status timeout {com['status_timeout_s']} s, "
               f"card timeout {com['card_timeout_s']} s")

    h = doc["history"]
    _section(out, f"History, last {h['days']} days", f"Riwayat {h['days']} hari")
    out.append(f"  recorded from {_v(h.get('recorded_from'))} to {h['to']}")
    out.append("  time in state:" + ("" if h["share_in_state"] else " nothing recorded yet"))
    for k, v in h["share_in_state"].items():
        out.append(f"    {k:<9} {v * 100:5.1f}%  {duration(h['seconds_in_state'].get(k))}")
    out.append(f"  cards {h['cards']} (printed {h['printed']}, spoiled {h['spoiled']}, test {h['test']}), "
               f"in doubt {h['in_doubt']}, not fed {h['not_fed']}")
    by_reason = ", ".join(f"{k} {v}" for k, v in h["faults_by_reason"].items())
    rate = h["faults_per_100_cards"]
    out.append(f"  faults {h['faults']}" + (f" ({by_reason})" if by_reason else "")
               + (f", {rate} per 100 cards" if rate is not None else ", no cards to compare"))
    if h.get("supply_stops"):
        stops = ", ".join(f"{k} {v}" for k, v in h["supply_stops"].items())
        out.append(f"  supply stops (not faults): {stops}")
    if h["by_day"]:
        out.append(f"  {'day':<10}  {'printed':>7}  {'spoiled':>7}  {'test':>4}  {'doubt':>5}  {'faults':>6}")
        for d in h["by_day"]:
            out.append(f"  {d['day']:<10}  {d['printed']:>7}  {d['spoiled']:>7}  {d['test']:>4}  "
                       f"{d['in_doubt']:>5}  {d['faults']:>6}")

    _section(out, "Driver report", "Laporan driver")
    raw = doc.get("raw_status") or {}
    rows = [(f"status.{k}", v) for k, v in _flatten(raw)] if raw else []
    rows += _flatten(doc.get("driver_report") or {})
    for key, value in rows[:MAX_DRIVER_LINES]:
        out += _wrap(f"{key}: {value}", 2)
    if len(rows) > MAX_DRIVER_LINES:
        out.append(f"  ... {len(rows) - MAX_DRIVER_LINES} more (see --json)")
    return "\n".join(out) + "\n"
