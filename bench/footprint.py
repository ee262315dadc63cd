"""Footprint of the daemon: start-to-ready time, idle RSS and idle CPU, beside a bare FastAPI app.

    .venv/bin/python bench/footprint.py [--starts 5] [--idle 60] [--json]

printd runs as `python -m printd serve` on the embedded default config (two simulated printers,
default poll interval of 1 s), on a fresh state dir, with `NOTIFY_SOCKET` pointing at a datagram
socket this script reads and `WATCHDOG_USEC` as the systemd unit sets it (WatchdogSec=30), so the
daemon does all it does under systemd. Measured:

- start-to-ready: process start -> first `GET /healthz` 200 (polled every 5 ms), and -> the `READY=1`
  datagram. Baselines: the bare FastAPI app of `bench/floor_app.py` served the same way (-> its
  `/healthz`), and `python -c "import fastapi, uvicorn"` (wall time and peak RSS).
- idle: both servers started, left alone for `--idle` seconds side by side; CPU from
  `/proc/PID/stat` (utime + stime, all threads) in three equal slices (their spread is the noise),
  RSS from `/proc/PID/status` at the end.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    Server,
    cpu_seconds,
    describe_machine,
    free_port,
    machine,
    median,
    rss_mb,
    spawn,
    spread,
    start_floor,
    table,
    wait_ready,
)

WATCHDOG_USEC = "30000000"   # WatchdogSec=30 in systemd/printd.service


class NotifyListener(threading.Thread):
    """The service manager's side of `$NOTIFY_SOCKET`: records when READY=1 arrives."""

    def __init__(self, path: Path) -> None:
        super().__init__(name="notify-listener", daemon=True)
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.ready_at: float | None = None
        self.ready = threading.Event()
        self.messages: list[str] = []
        self.closing = False

    def run(self) -> None:
        while not self.closing:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            now = time.monotonic()
            text = data.decode("utf-8", "replace")
            self.messages.append(text)
            if "READY=1" in text.splitlines() and self.ready_at is None:
                self.ready_at = now
                self.ready.set()

    def close(self) -> None:
        self.closing = True
        self.join(2)
        self.sock.close()


def start_daemon(work: Path, k: int) -> tuple[Server, NotifyListener]:
    """`python -m printd serve` on the embedded default, fresh state, with a notify socket."""
    listener = NotifyListener(work / f"notify-{k}.sock")
    listener.start()
    port = free_port()
    state = work / f"state-{k}"
    proc, t0 = spawn([sys.executable, "-m", "printd", "serve", "--state-dir", str(state),
                      "--listen", f"127.0.0.1:{port}"], work / f"printd-{k}.log",
                     {"NOTIFY_SOCKET": str(listener.path), "WATCHDOG_USEC": WATCHDOG_USEC})
    return Server(url=f"http://127.0.0.1:{port}", process=proc, started_at=t0, log=work / f"printd-{k}.log",
                  state_dir=state), listener


def measure_start(work: Path, k: int) -> tuple[Server, NotifyListener, float, float]:
    server, listener = start_daemon(work, k)
    try:
        healthy = wait_ready(server.url + "/healthz", server.process, interval=0.005)
        if not listener.ready.wait(30) or listener.ready_at is None:
            raise RuntimeError(f"no READY=1 from printd (log: {server.log})")
    except BaseException:
        server.stop()
        listener.close()
        raise
    return server, listener, healthy - server.started_at, listener.ready_at - server.started_at


def measure_floor_start(work: Path) -> tuple[Server, float]:
    server = start_floor(work, wait=False)
    try:
        healthy = wait_ready(server.url + "/healthz", server.process, interval=0.005)
    except BaseException:
        server.stop()
        raise
    return server, healthy - server.started_at


def measure_import(code: str) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of `python -c CODE`, from the child's own rusage."""
    t0 = time.monotonic()
    pid = os.spawnv(os.P_NOWAIT, sys.executable, [sys.executable, "-c", code])
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.monotonic() - t0
    if status != 0:
        raise RuntimeError(f"python -c {code!r} failed ({status})")
    return elapsed, usage.ru_maxrss / 1024


def idle_window(pids: dict[str, int], seconds: float, slices: int = 3) -> dict[str, dict[str, Any]]:
    """CPU % of one core per process over `seconds`, in `slices` equal parts; RSS at the end."""
    out: dict[str, dict[str, Any]] = {name: {"slices_pct": []} for name in pids}
    last = {name: cpu_seconds(pid) for name, pid in pids.items()}
    part = seconds / slices
    for _ in range(slices):
        t0 = time.monotonic()
        time.sleep(part)
        dt = time.monotonic() - t0
        for name, pid in pids.items():
            now = cpu_seconds(pid)
            out[name]["slices_pct"].append((now - last[name]) / dt * 100)
            last[name] = now
    for name, pid in pids.items():
        out[name]["cpu_pct"] = sum(out[name]["slices_pct"]) / slices
        out[name]["rss_mb"], out[name]["peak_rss_mb"] = rss_mb(pid)
    return out


def run(starts: int = 5, idle_s: float = 60.0, settle_s: float = 5.0) -> dict[str, Any]:
    """Measure `starts` cold starts of each server, then one idle window with both running."""
    with tempfile.TemporaryDirectory(prefix="printd-bench-footprint-") as tmp:
        work = Path(tmp)
        imports = [measure_import("import fastapi, uvicorn") for _ in range(starts)]
        printd_imports = [measure_import("import printd.daemon, printd.cli.main") for _ in range(starts)]
        healthz, ready, floor = [], [], []
        daemon: Server | None = None
        listener: NotifyListener | None = None
        floor_server: Server | None = None
        try:
            for k in range(starts):
                # alternate the two so both meet the same neighbours
                fs, ft = measure_floor_start(work)
                floor.append(ft)
                d, lst, h, r = measure_start(work, k)
                healthz.append(h)
                ready.append(r)
                if k < starts - 1:
                    fs.stop()
                    d.stop()
                    lst.close()
                else:   # keep the last pair running for the idle window
                    floor_server, daemon, listener = fs, d, lst
            assert daemon is not None and floor_server is not None
            time.sleep(settle_s)
            idle = idle_window({"printd": daemon.pid, "floor": floor_server.pid}, idle_s)
            notify_lines = sorted({line.split("=", 1)[0] for m in (listener.messages if listener else [])
                                   for line in m.splitlines()})
        finally:
            for s in (daemon, floor_server):
                if s is not None:
                    s.stop()
            if listener is not None:
                listener.close()
    res = {
        "machine": machine(), "starts": starts, "idle_s": idle_s,
        "start": {"printd_healthz_s": median(healthz), "printd_ready_s": median(ready),
                  "floor_healthz_s": median(floor),
                  "import_fastapi_uvicorn_s": median(i[0] for i in imports),
                  "import_printd_s": median(i[0] for i in printd_imports),
                  "samples": {"printd_healthz": healthz, "printd_ready": ready, "floor_healthz": floor}},
        "rss": {"printd_mb": idle["printd"]["rss_mb"], "printd_peak_mb": idle["printd"]["peak_rss_mb"],
                "floor_mb": idle["floor"]["rss_mb"], "import_fastapi_uvicorn_mb": median(i[1] for i in imports),
                "import_printd_mb": median(i[1] for i in printd_imports)},
        "idle_cpu": {"printd_pct": idle["printd"]["cpu_pct"], "floor_pct": idle["floor"]["cpu_pct"],
                     "printd_slices_pct": idle["printd"]["slices_pct"],
                     "floor_slices_pct": idle["floor"]["slices_pct"]},
        "notify_keys": notify_lines,
    }
    res["met"] = {"rss": res["rss"]["printd_mb"] <= 80, "idle_cpu": res["idle_cpu"]["printd_pct"] <= 0.5,
                  "start": max(res["start"]["printd_healthz_s"], res["start"]["printd_ready_s"]) <= 1.5}
    return res


def render(res: dict[str, Any]) -> str:
    st, rss, cpu = res["start"], res["rss"], res["idle_cpu"]
    s = st["samples"]
    rows = [
        ("start -> /healthz 200 (s)", f"{st['floor_healthz_s']:.2f}", f"{st['printd_healthz_s']:.2f}",
         f"{st['printd_healthz_s'] / st['floor_healthz_s']:.2f}", spread(s["printd_healthz"]) + " s"),
        ("start -> READY=1 (s)", "", f"{st['printd_ready_s']:.2f}",
         f"{st['printd_ready_s'] / st['floor_healthz_s']:.2f}",
         spread(s["printd_ready"]) + " s"),
        ("imports alone (s)", f"{st['import_fastapi_uvicorn_s']:.2f}", f"{st['import_printd_s']:.2f}",
         f"{st['import_printd_s'] / st['import_fastapi_uvicorn_s']:.2f}", "fastapi+uvicorn vs printd.daemon+cli"),
        ("idle RSS (MiB)", f"{rss['floor_mb']:.1f}", f"{rss['printd_mb']:.1f}",
         f"{rss['printd_mb'] / rss['floor_mb']:.2f}",
         f"printd peak {rss['printd_peak_mb']:.1f} MiB"),
        ("imports alone, peak RSS (MiB)", f"{rss['import_fastapi_uvicorn_mb']:.1f}", f"{rss['import_printd_mb']:.1f}",
         f"{rss['import_printd_mb'] / rss['import_fastapi_uvicorn_mb']:.2f}", ""),
        (f"idle CPU over {res['idle_s']:g} s (% of a core)", f"{cpu['floor_pct']:.3f}", f"{cpu['printd_pct']:.3f}",
         "", "printd slices " + ", ".join(f"{v:.3f}" for v in cpu["printd_slices_pct"])),
    ]
    met = res["met"]
    return (f"Embedded default (2 simulated printers, poll 1 s), median of {res['starts']} cold starts; "
            f"{describe_machine(res['machine'])}\n\n"
            + table(("", "floor (bare FastAPI)", "printd", "printd / floor", "spread / note"), rows)
            + f"\n\nTargets: RSS <= 80 MiB ({'met' if met['rss'] else 'MISSED'}), idle CPU <= 0.5 % "
              f"({'met' if met['idle_cpu'] else 'MISSED'}), "
              f"start-to-ready <= 1.5 s ({'met' if met['start'] else 'MISSED'}).")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--starts", type=int, default=5, help="cold starts of each server")
    ap.add_argument("--idle", type=float, default=60.0, help="seconds of the idle window")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    res = run(starts=args.starts, idle_s=args.idle)
    print(json.dumps(res, indent=2) if args.json else render(res))
    return res


if __name__ == "__main__":
    main()
