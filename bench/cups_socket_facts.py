"""What CUPS's socket backend does when a port-9100 card printer misbehaves: the facts behind the
CUPS driver's socket:// rules (docs/drivers.md, "socket:// queues").

    .venv/bin/python bench/cups_socket_facts.py [--only NAME] [--json]

One private cupsd (`tests/cups_harness.py`) with one queue on `socket://127.0.0.1:PORT` (the AppSocket
test printer of `tests/appsocket_printer.py`, behind the vendor-style filter and PPD). Each scenario
submits one card with pycups, applies one fault, and prints every change of what CUPS shows (job-state,
job-state-reasons, the job's printer-state-message, time-at-processing, and the queue's state, reasons
and message) with its time, then what the printer itself did with the job's stream (started, printed,
dropped, incomplete). Nothing here is printd: it is CUPS alone.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from printd.cards.art import sample_card
from printd.drivers.cups.render import render_card_pdf
from tests.appsocket_printer import SocketPrinter
from tests.cups_harness import CupsHarness

Q = "card1"


def trace(h: CupsHarness, jid: int, seconds: float, act: Callable[[float, dict[str, Any]], None] | None = None,
          stop_when_final: bool = True) -> list[dict[str, Any]]:
    """Poll the job and the queue every 50 ms; one entry per change. `act(t, snapshot)` may inject faults."""
    conn = h.connection()
    t0 = time.monotonic()
    out: list[dict[str, Any]] = []
    last: tuple[Any, ...] | None = None
    final_at = None
    while time.monotonic() - t0 < seconds:
        try:
            a = conn.getJobAttributes(jid)
            q = conn.getPrinterAttributes(Q, requested_attributes=[
                "printer-state", "printer-state-reasons", "printer-state-message"])
        except Exception as exc:  # noqa: BLE001 - cupsd restarting: record it and reconnect
            snap: dict[str, Any] = {"cups": f"unreachable ({type(exc).__name__})"}
            conn = None
            time.sleep(0.2)
            try:
                conn = h.connection()
            except Exception:  # noqa: BLE001 - still down
                conn = None
            while conn is None and time.monotonic() - t0 < seconds:
                time.sleep(0.2)
                try:
                    conn = h.connection()
                except Exception:  # noqa: BLE001 - still down
                    conn = None
        else:
            reasons = q.get("printer-state-reasons")
            snap = {"job_state": a.get("job-state"), "job_reasons": a.get("job-state-reasons"),
                    "job_message": a.get("job-printer-state-message"),
                    "time_at_processing": a.get("time-at-processing"),
                    "queue_state": q.get("printer-state"),
                    "queue_reasons": reasons if isinstance(reasons, list) else [reasons],
                    "queue_message": q.get("printer-state-message")}
        key = tuple(json.dumps(v, sort_keys=True, default=str) for v in snap.values())
        t = round(time.monotonic() - t0, 2)
        if key != last:
            out.append({"t": t, **snap})
            last = key
        if act is not None:
            act(t, snap)
        if stop_when_final and snap.get("job_state") in (7, 8, 9):
            final_at = final_at or time.monotonic()
            if time.monotonic() - final_at > 1.5:
                break
        time.sleep(0.05)
    return out


def printer_said(p: SocketPrinter, title: str) -> dict[str, int]:
    return {k: sum(1 for r in getattr(p, k)() if r["job_name"] == title)
            for k in ("started", "printed", "dropped", "incomplete")}


def scenario(h: CupsHarness, name: str, policy: str, pdf: Path) -> dict[str, Any]:
    p = h.printers[Q]
    assert isinstance(p, SocketPrinter)
    h.reset()
    h.lp("lpadmin", "-p", Q, "-o", f"printer-error-policy={policy}")
    title = f"facts {name} {policy} {time.time():.0f}"
    once: dict[str, bool] = {}

    def first(key: str) -> bool:
        if once.get(key):
            return False
        once[key] = True
        return True

    seconds, act, extra = 20.0, None, {}
    if name == "normal":
        p.set_default(delay=0.5)
    elif name == "drop-mid-stream":
        p.on_next_job(drop_at=0.5, delay=0.5)
        seconds = 25.0 if policy != "stop-printer" else 8.0
    elif name == "drop-while-printing":
        p.on_next_job(drop_at=1.0, delay=2.0)
    elif name == "refused-then-back":
        p.refuse()

        def act(t: float, snap: dict[str, Any]) -> None:
            if t > 12 and first("back"):
                p.come_back()
        seconds = 40.0
    elif name == "stall":
        p.on_next_job(stall_at=0.3, delay=0.5)

        def act(t: float, snap: dict[str, Any]) -> None:
            if t > 12 and first("release"):
                p.release_stall()
        seconds = 40.0
    elif name == "stall-never-released":
        p.on_next_job(stall_at=0.3, delay=0.5)
        seconds = 120.0
    elif name in ("cupsd-restart-mid-stream", "cupsd-restart-while-printing"):
        p.on_next_job(delay=3.0)
        want = "Connected to printer." if name.endswith("stream") else "Waiting for printer to finish."

        def act(t: float, snap: dict[str, Any]) -> None:
            if snap.get("job_message") == want and first("restart"):
                if name.endswith("stream"):
                    time.sleep(0.15)
                h.restart_cupsd()
        seconds = 25.0
    elif name == "printer-killed-while-printing":
        p.on_next_job(delay=3.0)

        def act(t: float, snap: dict[str, Any]) -> None:
            if snap.get("job_message") == "Waiting for printer to finish." and first("kill"):
                time.sleep(0.3)
                p.kill()
            if once.get("kill") and t > 8 and first("on"):
                p.start()
    conn = h.connection()
    jid = conn.printFile(Q, str(pdf), title, {"copies": "1", "sides": "one-sided"})
    steps = trace(h, jid, seconds, act)
    if name == "drop-mid-stream" and policy == "stop-printer":
        h.enable(Q)
        extra["after_cupsenable"] = trace(h, jid, 20.0)
    time.sleep(1.0)
    result = {"scenario": name, "policy": policy, "steps": steps, **extra, "printer": printer_said(p, title)}
    h.cancel_all()
    if not p.alive:
        p.start()
    return result


SCENARIOS = [("normal", "abort-job"),
             *[("drop-mid-stream", pol) for pol in ("abort-job", "stop-printer", "retry-job", "retry-current-job")],
             ("drop-while-printing", "abort-job"), ("refused-then-back", "abort-job"), ("stall", "abort-job"),
             ("cupsd-restart-mid-stream", "abort-job"), ("cupsd-restart-while-printing", "abort-job"),
             ("printer-killed-while-printing", "abort-job"), ("stall-never-released", "abort-job")]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", help="run only the scenarios whose name contains this")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    results = []
    with CupsHarness.started((Q,), device="socket") as h, tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "card.pdf"
        pdf.write_bytes(render_card_pdf(sample_card("FACTS", 1)))
        pdf.chmod(0o644)
        for name, policy in SCENARIOS:
            if args.only and args.only not in name:
                continue
            r = scenario(h, name, policy, pdf)
            results.append(r)
            if not args.json:
                print(f"\n== {name} (printer-error-policy={policy}); the printer: {r['printer']}")
                for s in r["steps"] + r.get("after_cupsenable", []):
                    print("  ", json.dumps(s, default=str))
    if args.json:
        print(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
