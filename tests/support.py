"""Helpers shared by the tests: payloads, images, a real daemon in a thread or a subprocess."""
from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from printd.cards.art import sample_card

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_PNG_CACHE: dict[int, str] = {}


def png_b64(i: int = 0) -> str:
    if i not in _PNG_CACHE:
        _PNG_CACHE[i] = base64.b64encode(sample_card("TEST", i)).decode()
    return _PNG_CACHE[i]


def jpeg_b64() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (324, 204), (10, 120, 200)).save(buf, "JPEG")
    return base64.b64encode(buf.getvalue()).decode()


def nik(i: int) -> str:
    """A plausible NIK (Kota Bandung region, 12 March 1990, serial i+1)."""
    return f"327401120390{(i % 9999) + 1:04d}"


def job_payload(i: int, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "request_id": f"TEST-{i:06d}", "nik": nik(i), "name": f"WARGA UJI {i}", "card_type": "ktp-el",
        "reason": "new", "priority": "normal", "front": {"content_type": "image/png", "data": png_b64(i % 7)},
    }
    body.update(over)
    return body


def config_text(*, time_scale: float = 500.0, hopper: int = 400, extra: str = "", printers: str | None = None,
                seed: int = 1000, port: int | None = None, poll: float = 0.1, **mock: Any) -> str:
    """A config with two simulated printers at a high time scale."""
    more = "".join(f"{k} = {json.dumps(v)}\n" for k, v in mock.items())
    if printers is None:
        printers = "".join(f'[printers.{n}]\ndriver = "mock"\ntime_scale = {time_scale}\nhopper_capacity = {hopper}\n'
                           f"{more}\n" for n in ("card1", "card2"))
    server = f'[server]\nlisten = "127.0.0.1:{port}"\n' if port else ""
    return (f"{server}[station]\npoll_interval_s = {poll}\n[stock]\nseed = {{ \"ktp-el\" = {seed}, \"kia\" = 100 }}\n"
            f"{extra}\n{printers}")


@dataclass
class Daemon:
    """A running printd with its base URL and the first-start admin and enrollment tokens."""

    url: str
    state_dir: Path
    admin: str = ""
    enrollment: str = ""
    process: subprocess.Popen[bytes] | None = None
    app: Any = None
    log: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def client(self, token: str | None = None, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout,
                            headers={"Authorization": f"Bearer {token or self.admin}"})

    def read_tokens(self) -> None:
        for line in (self.state_dir / "initial-tokens.txt").read_text().splitlines():
            if line.startswith("admin="):
                self.admin = line.split("=", 1)[1]
            elif line.startswith("enrollment="):
                self.enrollment = line.split("=", 1)[1]


def wait_healthy(url: str, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"daemon exited with {proc.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"daemon at {url} not healthy within {timeout} s")


@contextmanager
def daemon_thread(config: str, state_dir: Path, clock: Any = None) -> Iterator[Daemon]:
    """The real uvicorn server in a background thread of this process (`clock`: a printd.clock
    SimulatedClock to run it across station days)."""
    import uvicorn

    from printd.app import build_app
    from printd.config import parse

    port = free_port()
    settings = parse(config, "<test>")
    # the daemon records where it listens (<state>/daemon.json) for the CLI: make that the real address
    settings = settings.model_copy(update={"server": settings.server.model_copy(
        update={"listen": f"127.0.0.1:{port}"})})
    state_dir.mkdir(parents=True, exist_ok=True)
    app = build_app(settings, state_dir, clock)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False,
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    d = Daemon(url=f"http://127.0.0.1:{port}", state_dir=state_dir, app=app)
    try:
        wait_healthy(d.url)
        d.read_tokens()
        yield d
    finally:
        server.should_exit = True
        thread.join(20)


def start_process(config_path: Path, state_dir: Path, port: int, log: Path) -> Daemon:
    """`python -m printd serve` as a subprocess (for crash tests)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    with open(log, "ab") as fh:   # the child keeps its own copy of the descriptor
        proc = subprocess.Popen([sys.executable, "-m", "printd", "serve", "--config", str(config_path),
                                 "--state-dir", str(state_dir), "--listen", f"127.0.0.1:{port}"],
                                stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=str(ROOT))
    d = Daemon(url=f"http://127.0.0.1:{port}", state_dir=state_dir, process=proc, log=log)
    wait_healthy(d.url, proc=proc)
    d.read_tokens()
    return d


def kill(d: Daemon) -> None:
    if d.process is not None and d.process.poll() is None:
        d.process.send_signal(signal.SIGKILL)
        d.process.wait(10)


def stop(d: Daemon) -> None:
    if d.process is not None and d.process.poll() is None:
        d.process.terminate()
        try:
            d.process.wait(15)
        except subprocess.TimeoutExpired:
            kill(d)


def printed_log(state_dir: Path, printer: str) -> list[dict[str, Any]]:
    path = state_dir / "printers" / printer / "printed.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def card_inside(state_dir: Path, printer: str) -> str | None:
    """The job whose card is inside the simulated printer (fed, not yet out), from its state file.

    A claimed job is not yet a card in the printer: its card is prepared and the printer's counters are
    read first (issue 20, 14b); a fault meant to land on a card must wait for this.
    """
    try:
        flight = json.loads((state_dir / "printers" / printer / "state.json").read_text())["in_flight"]
    except (OSError, ValueError, KeyError):
        return None
    return flight.get("job_id") if flight else None


def wait_for(predicate: Any, timeout: float = 60.0, interval: float = 0.05, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what}")


def all_jobs(c: httpx.Client) -> list[dict[str, Any]]:
    """Every job the client may see, following the API's cursors."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = c.get("/api/v1/jobs", params={"limit": 500, **({"cursor": cursor} if cursor else {})}).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def mock_and_evolis(dialect: str = "guide") -> str:
    """`[printers]` for a simulated printer `card1` beside an emulated Evolis `evo1` of the given dialect,
    both KTP-el retransfer printers at 400x (for config_text's `printers`)."""
    return f"""
[printers.card1]
driver = "mock"
time_scale = 400
hopper_capacity = 200

[printers.evo1]
driver = "evolis"
transport = "emulator"
# the emulated Evolis stands in for a second KTP-el printer here: an Evolis is direct-to-card by default
technology = "retransfer"
time_scale = 400
timeout_s = 10
dialect = "{dialect}"
"""


async def until(pred: Any, timeout: float = 20.0, what: str = "condition", interval: float = 0.02) -> Any:
    """Await `pred()` (a value or a coroutine) until it is truthy; its value, or TimeoutError(what)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        value = pred()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(interval)
    raise TimeoutError(what)
