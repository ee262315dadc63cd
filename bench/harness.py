"""What the benchmarks share: servers in subprocesses, the machine's description, statistics, tables.

Every benchmark compares printd with a baseline measured in the same command, because the machines
these run on are shared and noisy: a ratio survives a busy neighbour far better than milliseconds do.
"""
from __future__ import annotations

import logging
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A free TCP port on loopback (the kernel's choice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def machine() -> dict[str, Any]:
    """Where the figures come from: architecture, Python, cores, and how busy the machine was."""
    try:
        load = os.getloadavg()
    except OSError:
        load = (0.0, 0.0, 0.0)
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"arch": platform.machine(), "python": f"{platform.python_implementation()} {platform.python_version()}",
            "cores": os.cpu_count(), "cpu": cpu, "load_1m": round(load[0], 2),
            "date": time.strftime("%Y-%m-%d")}


def describe_machine(m: dict[str, Any]) -> str:
    return (f"{m['arch']}, {m['python']}, {m['cores']} cores ({m['cpu'] or 'unknown CPU'}), "
            f"load {m['load_1m']} at start, {m['date']}")


# ---------------------------------------------------------------------------------------- statistics

def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) by linear interpolation between closest ranks."""
    if not values:
        raise ValueError("no values")
    s = sorted(values)
    pos = q * (len(s) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


def spread(values: Sequence[float]) -> str:
    """How noisy repeated runs were: `min–max (±x % of the median)`."""
    if not values:
        return "-"
    m = median(values)
    half = (max(values) - min(values)) / 2
    pct = half / m * 100 if m else 0.0
    return f"{min(values):.3g}–{max(values):.3g} (±{pct:.0f} %)"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A markdown table."""
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------- /proc

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_cpu(path: str) -> float:
    raw = Path(path).read_text()
    # the command name may hold spaces and parentheses: the fields start after the last ')'
    fields = raw[raw.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and all its threads so far (`/proc/PID/stat` utime + stime)."""
    return _stat_cpu(f"/proc/{pid}/stat")


def children_cpu_seconds(pid: int) -> float:
    """CPU time of a process's live children and theirs (printd's preparation pool), so far."""
    total = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            kids = (task / "children").read_text().split()
        except OSError:
            continue
        for kid in kids:
            try:
                total += cpu_seconds(int(kid)) + children_cpu_seconds(int(kid))
            except OSError:
                pass   # it ended meanwhile
    return total


def main_thread_cpu_seconds(pid: int) -> float:
    """CPU time of the process's first thread alone: for asyncio servers, the event loop's thread."""
    return _stat_cpu(f"/proc/{pid}/task/{pid}/stat")


def rss_mb(pid: int) -> tuple[float, float]:
    """(resident set now, peak resident set) in MiB, from `/proc/PID/status`."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


# ---------------------------------------------------------------------------------------- servers

@dataclass
class Server:
    """An HTTP server running as a subprocess of the benchmark."""

    url: str
    process: subprocess.Popen[bytes]
    started_at: float
    log: Path | None = None
    state_dir: Path | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not go within 15 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
    env.update({"PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **(extra or {})})
    return env


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0, interval: float = 0.01) -> float:
    """Poll `url` until it answers 200; returns the monotonic time it first did."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1.0) as c:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode} before it was ready")
            try:
                if c.get(url).status_code == 200:
                    return time.monotonic()
            except httpx.HTTPError:
                pass
            time.sleep(interval)
    raise TimeoutError(f"{url} not ready within {timeout} s")


def spawn(argv: list[str], log: Path, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], float]:
    """Start `argv` with the worktree on PYTHONPATH; returns the process and its monotonic start time."""
    with open(log, "ab") as fh:
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, env=_env(env), cwd=str(ROOT))
    return proc, t0


def start_printd(config: str, state_dir: Path, *, env: dict[str, str] | None = None,
                 wait: bool = True) -> Server:
    """`python -m printd serve` on a free loopback port with `config` (TOML text) and a fresh state dir."""
    state_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    cfg = state_dir.parent / f"{state_dir.name}.toml"
    cfg.write_text(config)
    log = state_dir.parent / f"{state_dir.name}.log"
    proc, t0 = spawn([sys.executable, "-m", "printd", "serve", "--config", str(cfg), "--state-dir", str(state_dir),
                      "--listen", f"127.0.0.1:{port}"], log, env)
    server = Server(url=f"http://127.0.0.1:{port}", process=proc, started_at=t0, log=log, state_dir=state_dir)
    if wait:
        try:
            wait_ready(server.url + "/healthz", proc)
            server.tokens = read_tokens(state_dir)
        except BaseException:
            server.stop()
            raise
    return server


def read_tokens(state_dir: Path) -> dict[str, str]:
    """The first-start tokens (`admin`, `enrollment`) the daemon wrote beside its database."""
    out: dict[str, str] = {}
    for line in (state_dir / "initial-tokens.txt").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#"):
            out[key.strip()] = value.strip()
    return out


def start_floor(workdir: Path, *, wait: bool = True) -> Server:
    """The bare FastAPI app of `bench/floor_app.py`, served by uvicorn as printd serves itself."""
    port = free_port()
    log = workdir / f"floor-{port}.log"
    proc, t0 = spawn([sys.executable, "-m", "bench.floor_app", "--port", str(port)], log)
    server = Server(url=f"http://127.0.0.1:{port}", process=proc, started_at=t0, log=log)
    if wait:
        try:
            wait_ready(server.url + "/healthz", proc)
        except BaseException:
            server.stop()
            raise
    return server


def printd_config(*, poll_interval_s: float | None = None, enabled: bool = True, time_scale: float = 10.0,
                  hopper: int = 100, seed: int = 500, extra_printer: str = "") -> str:
    """Two simulated printers `card1`, `card2`, as in the embedded default unless told otherwise."""
    station = f"[station]\npoll_interval_s = {poll_interval_s}\n" if poll_interval_s is not None else ""
    printers = "".join(
        f'[printers.{n}]\ndriver = "mock"\ncard_type = "ktp-el"\ntime_scale = {time_scale}\n'
        f"hopper_capacity = {hopper}\nenabled = {'true' if enabled else 'false'}\n{extra_printer}\n"
        for n in ("card1", "card2"))
    return f'{station}[stock]\nseed = {{ "ktp-el" = {seed}, "kia" = 100 }}\n\n{printers}'


@dataclass
class InProcess:
    """printd's real app served by uvicorn in a thread of this process, so its objects can be instrumented."""

    url: str
    app: Any
    tokens: dict[str, str]

    @property
    def station(self) -> Any:
        return self.app.state.station


@contextmanager
def serve_in_thread(config: str, state_dir: Path) -> Iterator[InProcess]:
    """`build_app` + `uvicorn.Server` as `printd serve` runs them, on a background thread."""
    import threading

    import uvicorn

    from printd.app import build_app
    from printd.config import parse

    logger = logging.getLogger("printd")
    if not logger.handlers:
        # the daemon's warnings (a simulated printer going offline on purpose) would drown the table
        quiet = logging.StreamHandler()
        quiet.setLevel(logging.ERROR)
        logger.addHandler(quiet)
    state_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    app = build_app(parse(config, "<bench>"), state_dir)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False,
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, name="printd-server", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("printd did not start in-process")
            time.sleep(0.01)
        yield InProcess(url=url, app=app, tokens=read_tokens(state_dir))
    finally:
        server.should_exit = True
        thread.join(30)


def fill_queue(settings: Any, state_dir: Path, depth: int) -> None:
    """Write `depth` queued single-sided jobs (one sample card) straight through the store of a station
    that is not running: the set-up of the in-process benches, not something they measure."""
    from bench.submit import bench_nik
    from printd.cards.art import sample_card
    from printd.queue.models import Priority
    from printd.queue.store import NewJob
    from printd.station import Station

    seed = Station(settings, state_dir)
    seed.open_store()
    sha = seed.images.put(sample_card("BENCH", 1))
    for i in range(depth):
        seed.store.submit(NewJob(client="bench", request_id=f"r{i}", nik=bench_nik(i), name="N", card_type="ktp-el",
                                 reason="new", priority=Priority.NORMAL, front_sha=sha, back_sha=None,
                                 callback_url=None))
    assert seed.database is not None
    seed.database.close()
