"""printd's daemon over the private CUPS of `tests/cups_harness.py`: its config, its blanks, and the truth.

The truth is what the fake printers wrote (`FakePrinter.printed()`), matched to printd jobs by the
CUPS job title `printd <job id> #<attempt>`; the daemon's word is its job states and its ledger.
Used by the end-to-end CUPS tests and by `bench/cups_vs_class.py`.
"""
from __future__ import annotations

import collections
import re
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from tests.cups_harness import CupsHarness

#: the title the worker gives every card (printd/worker.py), with the job id and the attempt
TITLE_RE = re.compile(r"printd (j_[0-9A-Za-z]+) #(\d+)")

#: per printer: fast cards (the fake printers take DEFAULT_DELAY_S) and short deadlines, so a lost
#: card is given up within seconds; the rules are the production ones, only the clocks are shorter
DRIVER_DEFAULTS: dict[str, Any] = {"seconds_single": 0.5, "seconds_dual": 0.8, "timeout_s": 10.0,
                                   "call_timeout_s": 3.0, "probe_grace_s": 1.0, "poll_interval_s": 0.2}


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def station_config(server: str, queues: Iterable[str] = ("card1", "card2"), *, poll: float = 0.2,
                   **driver: Any) -> str:
    """A config with one `driver = "cups"` printer per queue (printer name = queue name), no demo seed.

    Without `[stock] seed` the ledger starts empty: blanks are booked as at a real station
    (`book_blanks`), because a CUPS printer has no hopper sensor that a seed could fill.
    """
    keys = {**DRIVER_DEFAULTS, **driver}
    out = [f"[station]\npoll_interval_s = {poll}\n"]
    for q in queues:
        out.append(f'\n[printers.{q}]\ndriver = "cups"\nqueue = "{q}"\ncups_server = {_toml(server)}\n')
        out.extend(f"{k} = {_toml(v)}\n" for k, v in keys.items())
    return "".join(out)


def book_blanks(client: httpx.Client, loads: Mapping[str, int], reference: str = "BAST/CUPS-E2E",
                card_type: str = "ktp-el") -> None:
    """Receive the blanks into the safe and load each printer's hopper, through the HTTP API."""
    r = client.post("/api/v1/stock/receipts",
                    json={"card_type": card_type, "count": sum(loads.values()), "reference": reference})
    r.raise_for_status()
    for printer, count in loads.items():
        client.post("/api/v1/stock/loads",
                    json={"printer": printer, "card_type": card_type, "count": count}).raise_for_status()


def physical_prints(harness: CupsHarness, job_ids: Iterable[str] | None = None) -> dict[str, list[str]]:
    """printd job id -> the printers that put out a card for it (one entry per card, oldest first).

    `job_ids` limits the answer to these jobs (the fake printers keep records across tests).
    """
    wanted = set(job_ids) if job_ids is not None else None
    out: dict[str, list[str]] = collections.defaultdict(list)
    for name, printer in harness.printers.items():
        for rec in printer.printed():
            m = TITLE_RE.search(str(rec.get("job_name", "")))
            if m and (wanted is None or m.group(1) in wanted):
                out[m.group(1)].append(name)
    return dict(out)


def started_jobs(harness: CupsHarness, printer: str, job_ids: Iterable[str]) -> list[str]:
    """printd job ids whose card the printer's print command started (printed, failed, hung or killed)."""
    wanted = set(job_ids)
    out = []
    for rec in harness.printers[printer].started():
        m = TITLE_RE.search(str(rec.get("job_name", "")))
        if m and m.group(1) in wanted:
            out.append(m.group(1))
    return out


def ledger_by_printer(client: httpx.Client) -> dict[str, collections.Counter[str]]:
    """Cards booked per printer: {"consumed": {printer: n}, "spoiled": {...}, "loaded": {...}}."""
    items = client.get("/api/v1/stock/ledger").raise_for_status().json()["items"]
    out: dict[str, collections.Counter[str]] = {k: collections.Counter()
                                                for k in ("consumed", "spoiled", "loaded")}
    for e in items:
        if e["kind"] in out:
            out[e["kind"]][e["printer"]] += e["count"]
    return out


def ledger_entries(client: httpx.Client, kind: str) -> list[dict[str, Any]]:
    """Ledger entries of one kind (consumed, spoiled...), in booking order."""
    items = client.get("/api/v1/stock/ledger").raise_for_status().json()["items"]
    return [e for e in items if e["kind"] == kind]


def jobs(client: httpx.Client, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The API's job objects for these ids."""
    return {i: client.get(f"/api/v1/jobs/{i}").raise_for_status().json() for i in ids}
