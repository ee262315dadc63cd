"""A city's backlog: does the station stay flat at 1,000 / 5,000 / 20,000 queued jobs?

    .venv/bin/python bench/backlog.py [--depths 1000,5000,20000] [--cards 200] [--json]

The real daemon (`python -m printd serve`, a subprocess) with two simulated printers at time_scale
1000 (a 35 s card in 35 ms: ideal 28.6 cards/s for one printer), both paused. The queue is filled
through the API (8 clients, small CR80 images: the fill is set-up, not measured) to each depth in
turn, and at each depth:

- 50 more submissions with the standard two ~300 KB images (bench/submit.py's bodies) from 1 client
  and from 8 clients: p50 / p99 and jobs/s;
- `GET /api/v1/jobs?limit=500` (operator, oldest first: at the later depths these are the cards the
  earlier depths printed, each with its attempt) and `?state=queued&limit=500` (what the operator page
  loads): median of 15 each;
- one state change (hold, then release, of the job at the head) to its SSE `job` event: median of 60,
  with the daemon's CPU per change (less its idle CPU over as long a quiet time after);
- `/healthz` round trips sampled every 20 ms while one printer prints 150 cards: p99, an outside view
  of the event loop's stalls (the daemon runs in its own process);
- RSS of the daemon;
- one printer resumed for `--cards` cards, nothing else asked of the daemon but a look at the printer
  every 0.25 s: cards/s from the resume to the last card's exit in the simulated printer's own log
  (printed.jsonl, its wall-clock times), and daemon CPU per card; then paused again. Its
  baseline, measured right before in this process: the same simulated printer (same configuration,
  its own directory) printing as many cards back to back with nothing between them
  (`bench/card_chain.py`'s `printer_alone`): the most any station could get out of it here and now.

Measuring starts once the fill's cards are all prepared (decoded after their 201) and the daemon is
quiet again: that background work belongs to the set-up, and its time is reported (`fill_prepared_s`).

The operator page's first load in Chromium is measured by tests/e2e/test_page.py's harness only at
small depths; see docs/benchmarks.md for what this run does not cover.
"""
from __future__ import annotations

import argparse
import base64
import io
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from PIL import Image

from bench.card_chain import printer_alone
from bench.harness import (
    children_cpu_seconds,
    cpu_seconds,
    describe_machine,
    machine,
    median,
    percentile,
    printd_config,
    rss_mb,
    start_printd,
    table,
)
from bench.submit import bench_nik, drive, job_body
from printd.cards.art import sample_card

IDEAL_CARDS_S = 1000 / 35.0


def _small_png() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (162, 102), (30, 90, 160)).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


def fill_bodies(start: int, count: int) -> list[bytes]:
    img = {"content_type": "image/png", "data": _small_png()}
    return [json.dumps({"request_id": f"FILL-{i:06d}", "nik": bench_nik(i),
                        "name": f"WARGA ANTRI {i}", "card_type": "ktp-el", "front": img}).encode()
            for i in range(start, start + count)]


def _sse_change_ms(url: str, admin: str, pid: int, rounds: int = 60) -> tuple[float, float, float]:
    """Hold/release the head job: ms from the request to its SSE event (median, max), and the daemon's
    CPU per change (its CPU over the changes less its idle CPU over as long a quiet time after)."""
    headers = {"authorization": f"Bearer {admin}"}
    got: dict[str, float] = {}
    cond = threading.Condition()
    stop = threading.Event()

    def listen() -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=None) as c, \
                c.stream("GET", "/api/v1/events") as r:
            event = ""
            for line in r.iter_lines():
                if stop.is_set():
                    return
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "job":
                    doc = json.loads(line[5:])
                    with cond:
                        got[f"{doc['id']}:{doc['state']}"] = time.perf_counter()
                        cond.notify_all()

    threading.Thread(target=listen, daemon=True).start()
    time.sleep(0.5)
    waits = []
    with httpx.Client(base_url=url, headers=headers, timeout=60) as c:
        head = c.get("/api/v1/jobs", params={"state": "queued", "limit": 1}).json()["items"][0]["id"]
        time.sleep(0.5)
        cpu0, t0_all = cpu_seconds(pid), time.perf_counter()
        for k in range(rounds):
            action, state = ("hold", "held") if k % 2 == 0 else ("release", "queued")
            key = f"{head}:{state}"
            with cond:
                got.pop(key, None)
            t0 = time.perf_counter()
            assert c.post(f"/api/v1/jobs/{head}/{action}").status_code == 200
            with cond:
                cond.wait_for(lambda k=key: k in got, timeout=30)  # type: ignore[misc]
                waits.append((got[key] - t0) * 1000)
            time.sleep(0.2)
        busy, span = cpu_seconds(pid) - cpu0, time.perf_counter() - t0_all
    stop.set()
    idle0 = cpu_seconds(pid)
    time.sleep(span)
    idle = cpu_seconds(pid) - idle0
    return median(waits), max(waits), max(0.0, busy - idle) / rounds * 1000


STALL_CARDS = 150


def _printed_log(state_dir: Path) -> list[float]:
    """When each card came out of `card1`, by the simulated printer's own log (printed.jsonl, fsync'd)."""
    log = state_dir / "printers" / "card1" / "printed.jsonl"
    return sorted(json.loads(line)["at"] for line in log.read_text().splitlines() if line.strip())


def _run_card1(c: httpx.Client, cards: int) -> float:
    """Resume card1 until it has printed `cards` more cards, pause it; returns the wall time of the resume."""
    printed0 = c.get("/api/v1/printers/card1").json()["counters"]["today"] or 0
    resumed_at = time.time()
    c.post("/api/v1/printers/card1/resume")
    deadline = time.monotonic() + 600
    while True:
        time.sleep(0.25)
        printer = c.get("/api/v1/printers/card1").json()
        if (printer["counters"]["today"] or 0) - printed0 >= cards:
            break
        if time.monotonic() > deadline or printer["state"] == "stopped":
            raise RuntimeError(f"card1 stopped printing: {printer['state']} {printer['reasons']}")
    c.post("/api/v1/printers/card1/pause", json={"when": "now"})
    return resumed_at


def _print_phase(server: Any, admin: str, cards: int, state_dir: Path) -> dict[str, Any]:
    """Two runs of card1: STALL_CARDS cards with `/healthz` sampled every 20 ms (the event loop's stalls
    while printing, seen from outside), then `cards` cards with nothing else asked of the daemon but a
    look at the printer every 0.25 s: cards/s from the resume to the `cards`-th card out of the printer
    (the simulated printer's own log), and the daemon's CPU per card over that run."""
    headers = {"authorization": f"Bearer {admin}"}
    samples: list[float] = []
    done = threading.Event()

    def sample() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            while not done.is_set():
                t0 = time.perf_counter()
                c.get("/healthz")
                samples.append((time.perf_counter() - t0) * 1000)
                time.sleep(0.02)

    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as c:
        probe = threading.Thread(target=sample, daemon=True)
        probe.start()
        _run_card1(c, STALL_CARDS)
        done.set()
        probe.join()
        time.sleep(0.5)
        cpu0 = cpu_seconds(server.pid)
        resumed_at = _run_card1(c, cards)
        cpu = cpu_seconds(server.pid) - cpu0
    out_at = [t for t in _printed_log(state_dir) if t >= resumed_at]
    return {"cards_per_s": cards / (out_at[cards - 1] - resumed_at), "cpu_ms_per_card": cpu / len(out_at) * 1000,
            "healthz_p99_ms": percentile(samples, 0.99), "healthz_p50_ms": percentile(samples, 0.5)}


def measure(server: Any, depth: int, cards: int, serial: int, state_dir: Path) -> dict[str, Any]:
    admin, enrollment = server.tokens["admin"], server.tokens["enrollment"]
    out: dict[str, Any] = {"depth": depth}
    one = drive(server.url, enrollment, [job_body(serial + i, "one") for i in range(50)], 1)
    eight = drive(server.url, enrollment, [job_body(serial + 100 + i, "eight") for i in range(50)], 8)
    out.update(submit1_p50_ms=one["p50_ms"], submit1_p99_ms=one["p99_ms"], submit8_p50_ms=eight["p50_ms"],
               submit8_p99_ms=eight["p99_ms"], submit8_jobs_s=eight["jobs_per_s"])
    with httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {admin}"}, timeout=60) as c:
        for key, params in (("list500_ms", {"limit": 500}), ("queued500_ms", {"state": "queued", "limit": 500})):
            times = []
            for _ in range(15):
                t0 = time.perf_counter()
                assert c.get("/api/v1/jobs", params=params).status_code == 200
                times.append((time.perf_counter() - t0) * 1000)
            out[key] = median(times)
    out["change_to_sse_ms"], out["change_to_sse_max_ms"], out["cpu_ms_per_change"] = _sse_change_ms(
        server.url, admin, server.pid)
    out["rss_mb"] = rss_mb(server.pid)[0]
    out.update(_print_phase(server, admin, cards, state_dir))
    return out


def run(depths: list[int], cards: int) -> dict[str, Any]:
    results = []
    with tempfile.TemporaryDirectory(prefix="printd-bench-backlog-") as tmp:
        need = max(depths) + len(depths) * (cards + STALL_CARDS + 200) + 1000
        cfg = printd_config(enabled=False, time_scale=1000.0, hopper=need, seed=need,
                            extra_printer=f"ribbon_capacity = {need}\nfilm_capacity = {need}\n")
        with start_printd(cfg, Path(tmp) / "state") as server:
            filled = 0
            serial = 500000
            for depth in depths:
                # the queue holds what was filled less what printed: fill up to the depth
                with httpx.Client(base_url=server.url, timeout=60,
                                  headers={"authorization": f"Bearer {server.tokens['admin']}"}) as c:
                    now = _queued(c)
                t0 = time.perf_counter()
                bodies = fill_bodies(filled, max(0, depth - now))
                drive(server.url, server.tokens["enrollment"], bodies, 8)
                filled += len(bodies)
                fill_s = time.perf_counter() - t0
                # the fill's own preparation (each accepted card decoded after its 201) is set-up too: at
                # a real office the backlog builds over days and is long prepared; measured from the fill's
                # end and reported, not mixed into the figures below
                prepared_s = _wait_prepared(Path(tmp) / "state", depth)
                prepared_s += _wait_quiet(server.pid)
                alone = printer_alone(cards, sample_card("BENCH", 1))
                res = measure(server, depth, cards, serial, Path(tmp) / "state")
                res["printer_alone_cards_s"] = alone
                res["fill_s"], res["fill_prepared_s"] = fill_s, prepared_s
                serial += 1000
                results.append(res)
                print(json.dumps(res), file=sys.stderr, flush=True)
    return {"machine": machine(), "depths": depths, "cards": cards, "results": results}


def _wait_prepared(state_dir: Path, queued: int, timeout_s: float = 1800.0) -> float:
    """Seconds until at least `queued` cards are prepared (decoded: `prepared/<job>.decoded`)."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout_s:
        with os.scandir(state_dir / "prepared") as it:
            if sum(1 for e in it if e.name.endswith(".decoded")) >= queued:
                return time.perf_counter() - t0
        time.sleep(0.5)
    raise RuntimeError(f"the queue's {queued} cards were not prepared within {timeout_s:.0f} s")


def _wait_quiet(pid: int, timeout_s: float = 600.0) -> float:
    """Seconds until the daemon and its preparation pool use under 5 % of a core for two seconds running
    (the fill's after-effects over: the last preparations, their bookkeeping)."""
    t0 = time.perf_counter()
    quiet = 0
    last = cpu_seconds(pid) + children_cpu_seconds(pid)
    while time.perf_counter() - t0 < timeout_s:
        time.sleep(1.0)
        now = cpu_seconds(pid) + children_cpu_seconds(pid)
        quiet = quiet + 1 if now - last < 0.05 else 0
        last = now
        if quiet >= 2:
            return time.perf_counter() - t0
    raise RuntimeError(f"the daemon did not settle within {timeout_s:.0f} s after the fill")


def _queued(c: httpx.Client) -> int:
    n, cursor = 0, None
    while True:
        params: dict[str, Any] = {"state": "queued", "limit": 500}
        if cursor:
            params["cursor"] = cursor
        page = c.get("/api/v1/jobs", params=params).json()
        n += len(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return n


METRICS = [("submit, 1 client, p50 (ms)", "submit1_p50_ms"), ("submit, 1 client, p99 (ms)", "submit1_p99_ms"),
           ("submit, 8 clients, p50 (ms)", "submit8_p50_ms"), ("submit, 8 clients, p99 (ms)", "submit8_p99_ms"),
           ("submit, 8 clients (jobs/s)", "submit8_jobs_s"), ("GET /api/v1/jobs?limit=500 (ms)", "list500_ms"),
           ("GET /api/v1/jobs?state=queued&limit=500, the page's (ms)", "queued500_ms"),
           ("state change -> SSE event (ms)", "change_to_sse_ms"), ("daemon CPU per state change (ms)",
                                                                     "cpu_ms_per_change"),
           ("/healthz p99 while printing (ms)", "healthz_p99_ms"), ("RSS (MiB)", "rss_mb"),
           ("one printer at 1000x (cards/s)", "cards_per_s"),
           ("the same printer alone, back to back (cards/s)", "printer_alone_cards_s"),
           ("daemon CPU per card (ms)", "cpu_ms_per_card"),
           ("fill (s)", "fill_s"), ("fill's preparation after it (s)", "fill_prepared_s")]


def render(res: dict[str, Any]) -> str:
    rs = res["results"]
    first = rs[0]
    rows = []
    for label, key in METRICS:
        ratio = rs[-1][key] / first[key] if first[key] else float("nan")
        rows.append((label, *(f"{r[key]:.1f}" for r in rs), f"{ratio:.2f}"))
    head = (f"Backlog at {', '.join(str(d) for d in res['depths'])} queued jobs; {res['cards']} cards printed at "
            f"each depth; {describe_machine(res['machine'])}\n\n")
    last = rs[-1]
    foot = (f"\n\ncards/s at {res['depths'][-1]}: {last['cards_per_s']:.1f} = "
            f"{last['cards_per_s'] / last['printer_alone_cards_s']:.0%} of the same printer alone "
            f"({last['printer_alone_cards_s']:.1f}), {last['cards_per_s'] / IDEAL_CARDS_S:.0%} of the nominal "
            f"{IDEAL_CARDS_S:.1f}")
    return head + table(("", *(str(d) for d in res["depths"]), f"{res['depths'][-1]} / {res['depths'][0]}"),
                        rows) + foot


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--depths", default="1000,5000,20000")
    ap.add_argument("--cards", type=int, default=200)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    res = run([int(d) for d in args.depths.split(",")], args.cards)
    print(json.dumps(res, indent=2) if args.json else render(res))
    return res


if __name__ == "__main__":
    main()
