"""Submission throughput: N jobs with two ~300 KB PNGs each from C concurrent clients, against the real
server (`python -m printd serve` in a subprocess) and against the framework floor (`bench/floor_app.py`:
a bare FastAPI endpoint served the same way that parses the same JSON body and stores nothing).

    .venv/bin/python bench/submit.py [--jobs 250] [--clients 8] [--repeat 3] [--client raw|httpx] [--json]

Both printers are configured `enabled = false` (paused): jobs are accepted and queued but nothing
prints, so the simulated printers take no CPU from the submission path being measured. Each repeat
starts both servers afresh (printd on an empty state dir), warms each up with one request per client,
then sends the same pre-encoded bodies. The client (`RawClient`, the default) keeps its own work to
one `sendmsg` and one response read per job (~0.3 ms of CPU; httpx, `--client httpx`, costs ~2.4 ms on
the two cores the servers are measured on, and its CPU is reported either way). Reported: total wall time, per-job p50/p99 (client-side, request sent -> response read), and
printd / floor ratios. The median over the repeats is the figure; the spread shows the noise.
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import json
import queue
import random
import socket
import struct
import sys
import tempfile
import threading
import time
import urllib.parse
import zlib
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.harness import (
    Server,
    children_cpu_seconds,
    cpu_seconds,
    describe_machine,
    machine,
    main_thread_cpu_seconds,
    median,
    percentile,
    printd_config,
    spread,
    start_floor,
    start_printd,
    table,
)

#: CR80 at 300 dpi
CARD_W, CARD_H = 1012, 638
#: a "photo" of random pixels this size compresses to almost exactly its raw size: ~300 KB a card
PHOTO_W, PHOTO_H = 300, 330


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def card_png(job: int, side: int) -> bytes:
    """A CR80 RGB PNG of ~300 KB, different for every (job, side): a flat card with a noisy photo.

    Written directly (filter 0, zlib level 1) because Pillow's encoder takes ~4x longer and 500
    images would dominate the benchmark's own run time; Pillow decodes it like any other PNG.
    """
    rng = random.Random(job * 2 + side)
    bg = bytes([rng.randrange(150, 256), rng.randrange(150, 256), rng.randrange(150, 256)])
    band = bytes([rng.randrange(0, 120), rng.randrange(0, 120), rng.randrange(0, 120)])
    photo = rng.randbytes(PHOTO_W * PHOTO_H * 3)
    x0, y0 = 60, 160
    plain = b"\0" + bg * CARD_W
    banded = b"\0" + band * CARD_W
    rows = []
    for y in range(CARD_H):
        if 40 <= y < 110:
            rows.append(banded)
        elif y0 <= y < y0 + PHOTO_H:
            o = (y - y0) * PHOTO_W * 3
            rows.append(b"\0" + bg * x0 + photo[o:o + PHOTO_W * 3] + bg * (CARD_W - x0 - PHOTO_W))
        else:
            rows.append(plain)
    ihdr = struct.pack(">IIBBBBB", CARD_W, CARD_H, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"".join(rows), 1))
            + _chunk(b"IEND", b""))


def bench_nik(i: int) -> str:
    """A valid NIK of its own for each job number (up to 3.3 million): one open card per NIK is the rule
    (a second would be 409 duplicate_open_job), so the birth date carries i // 9999 and the serial the rest."""
    block, serial = divmod(i, 9999)
    return f"327401{block % 28 + 1:02d}{(block // 28) % 12 + 1:02d}{90 + block // 336:02d}{serial + 1:04d}"


def job_body(i: int, run: str) -> bytes:
    """The JSON body of job `i`, as the enrollment system would send it."""
    body = {
        "request_id": f"BENCH-{run}-{i:06d}", "nik": bench_nik(i), "name": f"WARGA BENCH {i}",
        "card_type": "ktp-el", "reason": "new", "priority": "normal",
        "front": {"content_type": "image/png", "data": base64.b64encode(card_png(i, 0)).decode()},
        "back": {"content_type": "image/png", "data": base64.b64encode(card_png(i, 1)).decode()},
    }
    return json.dumps(body).encode()


class RawClient:
    """One keep-alive HTTP/1.1 connection that sends pre-encoded bodies with one `sendmsg` each and reads
    the response by its Content-Length: a few microseconds of Python per request.

    The benchmark's client runs on the same two cores as the server it measures, while in the office the
    enrollment system is another machine: httpx costs ~2.4 ms of CPU a job here (measured with
    `--client httpx`), which the server then competes for. This client keeps that share small, for
    printd and for the floor alike.
    """

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parsed = urllib.parse.urlsplit(url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.sock = socket.create_connection((self.host, self.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.head = "".join(f"{k}: {v}\r\n" for k, v in {"host": f"{self.host}:{self.port}", **headers}.items())
        self.buf = b""

    def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\n{self.head}content-length: {len(body)}\r\n\r\n".encode()
        self.sock.sendmsg([head, body] if body else [head])
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        header, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = header.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(self.buf) < length:
            self._fill()
        content, self.buf = self.buf[:length], self.buf[length:]
        return status, content

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buf += chunk

    def close(self) -> None:
        self.sock.close()


def drive(url: str, token: str, bodies: list[bytes], clients: int, client_kind: str = "raw") -> dict[str, Any]:
    """Send every body once from `clients` threads; per-job latency and the total wall time.

    `client_kind`: "raw" (RawClient, the default) or "httpx" (an httpx.Client per thread, as before)."""
    todo: queue.SimpleQueue[bytes] = queue.SimpleQueue()
    for b in bodies:
        todo.put(b)
    latencies: list[float] = []
    accepted: dict[str, float] = {}
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}

    def post_raw() -> Any:
        c = RawClient(url, headers)
        return contextlib.closing(c), lambda body: c.request("POST", "/api/v1/jobs", body), lambda: c.request("GET", "/healthz")

    def post_httpx() -> Any:
        c = httpx.Client(base_url=url, timeout=60.0, headers=headers)

        def post(body: bytes) -> tuple[int, bytes]:
            r = c.post("/api/v1/jobs", content=body)
            return r.status_code, r.content
        return c, post, lambda: c.get("/healthz")

    def client() -> None:
        mine: list[float] = []
        ids: dict[str, float] = {}
        codes: dict[int, int] = {}
        conn, post, ping = post_raw() if client_kind == "raw" else post_httpx()
        with conn:
            ping()   # connect before the clock starts
            start.wait()
            while True:
                try:
                    body = todo.get_nowait()
                except queue.Empty:
                    break
                t0 = time.perf_counter()
                status, content = post(body)
                mine.append(time.perf_counter() - t0)
                codes[status] = codes.get(status, 0) + 1
                if status == 201 and b'"id":"j_' in content:
                    ids[content.split(b'"id":"', 1)[1].split(b'"', 1)[0].decode()] = time.time()
        with lock:
            latencies.extend(mine)
            accepted.update(ids)
            for k, v in codes.items():
                statuses[k] = statuses.get(k, 0) + v

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    total = time.perf_counter() - t0
    return {"total_s": total, "p50_ms": percentile(latencies, 0.5) * 1000, "p99_ms": percentile(latencies, 0.99) * 1000,
            "jobs_per_s": len(latencies) / total, "statuses": statuses, "accepted": accepted}


def _accepted(server: Server, result: dict[str, Any], expected: int) -> None:
    ok = sum(v for k, v in result["statuses"].items() if k in (200, 201))
    if ok != expected:
        raise RuntimeError(f"{server.url}: only {ok} of {expected} accepted: {result['statuses']} "
                           f"(log: {server.log})")


def prepared_ms(state_dir: Path, accepted: dict[str, float], timeout_s: float = 300.0) -> list[float]:
    """Seconds from each 201 to its card being prepared (decoded): the marker file's time in
    <state-dir>/prepared/ (printd/cards/prepare.py) minus the time the client read the 201."""
    deadline = time.monotonic() + timeout_s
    out: dict[str, float] = {}
    while len(out) < len(accepted) and time.monotonic() < deadline:
        for job_id, at in accepted.items():
            if job_id not in out:
                try:
                    out[job_id] = ((state_dir / "prepared" / f"{job_id}.decoded").stat().st_mtime - at) * 1000
                except FileNotFoundError:
                    pass
        time.sleep(0.2)
    if len(out) < len(accepted):
        raise RuntimeError(f"only {len(out)} of {len(accepted)} jobs prepared within {timeout_s:.0f} s")
    return list(out.values())


def _one(server: Server, token: str, bodies: list[bytes], warm: list[bytes], single: list[bytes],
         clients: int, state_dir: Path | None = None, client_kind: str = "raw") -> dict[str, Any]:
    drive(server.url, token, warm, clients, client_kind)
    cpu0, loop0, kids0 = cpu_seconds(server.pid), main_thread_cpu_seconds(server.pid), children_cpu_seconds(server.pid)
    own0 = time.process_time()
    result = drive(server.url, token, bodies, clients, client_kind)
    result["client_cpu_ms_per_job"] = (time.process_time() - own0) / len(bodies) * 1000
    # CPU per job is far less sensitive to busy neighbours than wall time
    result["cpu_ms_per_job"] = (cpu_seconds(server.pid) - cpu0) / len(bodies) * 1000
    result["loop_cpu_ms_per_job"] = (main_thread_cpu_seconds(server.pid) - loop0) / len(bodies) * 1000
    _accepted(server, result, len(bodies))
    if state_dir is not None:
        waits = prepared_ms(state_dir, result["accepted"])
        # printd's preparation pool (decode after acceptance), measured once every card is prepared
        result["prepare_cpu_ms_per_job"] = (children_cpu_seconds(server.pid) - kids0) / len(bodies) * 1000
        result["prepared_p50_ms"], result["prepared_p99_ms"] = percentile(waits, 0.5), percentile(waits, 0.99)
    del result["accepted"]
    # one client, one job at a time: the service time without queueing behind the other clients
    alone = drive(server.url, token, single, 1, client_kind)
    _accepted(server, alone, len(single))
    del alone["accepted"]
    result["single_p50_ms"] = alone["p50_ms"]
    return result


def image_costs_ms(bodies: list[bytes], directory: Path) -> tuple[float, float]:
    """CPU per job, in this process, of printd's two image steps alone: the contract's checks (base64 +
    the structure check of both sides) and storing both files (sha256, write, fsync)."""
    from printd.cards.checks import check_card_image
    from printd.queue.images import ImageStore

    store = ImageStore(directory)
    checks, stores = [], []
    for raw in bodies:
        body = json.loads(raw)
        t0 = time.process_time()
        images = [check_card_image(body[side]["content_type"], body[side]["data"], side) for side in ("front", "back")]
        t1 = time.process_time()
        store.put_all(*images)
        checks.append(t1 - t0)
        stores.append(time.process_time() - t1)
    return median(checks) * 1000, median(stores) * 1000


def _ratio(value: float, baseline: float) -> float:
    """value / baseline; infinite when the baseline measured zero (CPU is read in 10 ms clock ticks, and a
    few jobs of the floor can take less than one)."""
    return value / baseline if baseline else float("inf")


def run(jobs: int = 250, clients: int = 8, repeat: int = 3, workdir: Path | None = None,
        client_kind: str = "raw") -> dict[str, Any]:
    """Run the benchmark; returns every run and the medians."""
    with tempfile.TemporaryDirectory(prefix="printd-bench-submit-") as tmp:
        work = workdir or Path(tmp)
        t_gen = time.perf_counter()
        bodies = [job_body(i, "m") for i in range(jobs)]
        warm = [job_body(100000 + i, "w") for i in range(clients)]
        single = [job_body(200000 + i, "s") for i in range(min(jobs, 40))]
        gen_s = time.perf_counter() - t_gen
        png_kb = sum(len(card_png(i, s)) for i in range(min(jobs, 4)) for s in (0, 1)) / (2 * min(jobs, 4)) / 1024
        runs: list[dict[str, Any]] = []
        for k in range(repeat):
            with start_floor(work) as floor:
                f = _one(floor, "none", bodies, warm, single, clients, client_kind=client_kind)
            # paused printers: accepted jobs wait in the queue and nothing prints during the measurement
            with start_printd(printd_config(enabled=False), work / f"state-{k}") as daemon:
                p = _one(daemon, daemon.tokens["enrollment"], bodies, warm, single, clients, work / f"state-{k}",
                         client_kind)
            runs.append({"floor": f, "printd": p, "ratio_total": _ratio(p["total_s"], f["total_s"]),
                         "ratio_p50": _ratio(p["p50_ms"], f["p50_ms"]),
                         "ratio_cpu": _ratio(p["cpu_ms_per_job"], f["cpu_ms_per_job"])})
        check_ms, store_ms = image_costs_ms(bodies[:20], work / "images")
    summary = {
        key: median(r[side][metric] for r in runs)
        for key, side, metric in (("floor_total_s", "floor", "total_s"), ("floor_p50_ms", "floor", "p50_ms"),
                                  ("floor_p99_ms", "floor", "p99_ms"), ("printd_total_s", "printd", "total_s"),
                                  ("printd_p50_ms", "printd", "p50_ms"), ("printd_p99_ms", "printd", "p99_ms"),
                                  ("floor_cpu_ms", "floor", "cpu_ms_per_job"),
                                  ("printd_cpu_ms", "printd", "cpu_ms_per_job"),
                                  ("floor_client_cpu_ms", "floor", "client_cpu_ms_per_job"),
                                  ("printd_client_cpu_ms", "printd", "client_cpu_ms_per_job"),
                                  ("floor_loop_cpu_ms", "floor", "loop_cpu_ms_per_job"),
                                  ("printd_loop_cpu_ms", "printd", "loop_cpu_ms_per_job"),
                                  ("floor_single_p50_ms", "floor", "single_p50_ms"),
                                  ("printd_single_p50_ms", "printd", "single_p50_ms"),
                                  ("prepared_p50_ms", "printd", "prepared_p50_ms"),
                                  ("prepare_cpu_ms", "printd", "prepare_cpu_ms_per_job"),
                                  ("prepared_p99_ms", "printd", "prepared_p99_ms"))
    }
    summary["image_check_ms"], summary["image_store_ms"] = check_ms, store_ms
    for ratio in ("ratio_total", "ratio_p50", "ratio_cpu"):
        summary[ratio] = median(r[ratio] for r in runs)
    summary["body_kb"] = sum(len(b) for b in bodies) / len(bodies) / 1024
    summary["png_kb"] = png_kb
    return {"machine": machine(), "jobs": jobs, "clients": clients, "client": client_kind, "repeat": repeat,
            "printers": "paused",
            "generate_s": gen_s, "runs": runs, "median": summary,
            "targets": {"ratio_total_max": 2.0, "p99_ms_max": 100.0},
            "met": {"ratio": summary["ratio_total"] <= 2.0, "p99": summary["printd_p99_ms"] <= 100.0}}


def render(res: dict[str, Any]) -> str:
    m = res["median"]
    runs = res["runs"]
    rows = [
        ("total time (s)", f"{m['floor_total_s']:.2f}", f"{m['printd_total_s']:.2f}", f"{m['ratio_total']:.2f}",
         spread([r["ratio_total"] for r in runs])),
        ("per job p50 (ms)", f"{m['floor_p50_ms']:.1f}", f"{m['printd_p50_ms']:.1f}", f"{m['ratio_p50']:.2f}",
         spread([r["ratio_p50"] for r in runs])),
        ("per job p99 (ms)", f"{m['floor_p99_ms']:.1f}", f"{m['printd_p99_ms']:.1f}",
         f"{m['printd_p99_ms'] / m['floor_p99_ms']:.2f}", spread([r["printd"]["p99_ms"] for r in runs]) + " ms"),
        ("server CPU per job (ms)", f"{m['floor_cpu_ms']:.1f}", f"{m['printd_cpu_ms']:.1f}", f"{m['ratio_cpu']:.2f}",
         spread([r["ratio_cpu"] for r in runs])),
        ("  of it on the event-loop thread (ms)", f"{m['floor_loop_cpu_ms']:.1f}", f"{m['printd_loop_cpu_ms']:.1f}",
         f"{m['printd_loop_cpu_ms'] / m['floor_loop_cpu_ms']:.2f}", ""),
        ("1 client, per job p50 (ms)", f"{m['floor_single_p50_ms']:.1f}", f"{m['printd_single_p50_ms']:.1f}",
         f"{m['printd_single_p50_ms'] / m['floor_single_p50_ms']:.2f}",
         spread([r["printd"]["single_p50_ms"] for r in runs]) + " ms"),
        ("the benchmark client's own CPU per job (ms)", f"{m['floor_client_cpu_ms']:.1f}",
         f"{m['printd_client_cpu_ms']:.1f}", "", ""),
        ("jobs/s", f"{res['jobs'] / m['floor_total_s']:.1f}", f"{res['jobs'] / m['printd_total_s']:.1f}", "", ""),
        ("201 -> prepared p50 / p99 (ms)", "", f"{m['prepared_p50_ms']:.0f} / {m['prepared_p99_ms']:.0f}", "",
         spread([r["printd"]["prepared_p99_ms"] for r in runs]) + " ms p99"),
        ("preparation pool CPU per job (ms), after the 201", "", f"{m['prepare_cpu_ms']:.1f}", "", ""),
    ]
    head = (f"{res['jobs']} jobs x 2 PNGs (~{m['png_kb']:.0f} KB each, body ~{m['body_kb']:.0f} KB), "
            f"{res['clients']} clients ({res['client']}), printers paused, median of {res['repeat']} runs; "
            f"{describe_machine(res['machine'])}\n\n")
    head += (f"Where printd's CPU per job goes: the contract's image checks (base64 + structure check, both "
             f"sides) take {m['image_check_ms']:.1f} ms and storing both files durably (sha256, write, fsync) "
             f"{m['image_store_ms']:.1f} ms, each measured alone in the bench process; the event-loop thread "
             f"(HTTP, JSON, auth, validation, views) spends {m['printd_loop_cpu_ms']:.1f} ms against the floor's "
             f"{m['floor_loop_cpu_ms']:.1f} ms.\n\n")
    verdict = (f"\n\nTargets: printd <= 2x floor ({'met' if res['met']['ratio'] else 'MISSED'}), "
               f"p99 <= 100 ms ({'met' if res['met']['p99'] else 'MISSED'}).")
    return head + table(("", "floor (bare FastAPI)", "printd", "printd / floor", "spread over runs"), rows) + verdict


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=250)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--client", choices=("raw", "httpx"), default="raw",
                    help="the benchmark's HTTP client: raw keep-alive sockets (default) or httpx")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    res = run(jobs=args.jobs, clients=args.clients, repeat=args.repeat, client_kind=args.client)
    print(json.dumps(res, indent=2) if args.json else render(res))
    return res


if __name__ == "__main__":
    main()
