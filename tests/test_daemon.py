"""`printd serve` under a (simulated) systemd: READY once serving, WATCHDOG pings, STOPPING on SIGTERM."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support import ROOT, config_text, free_port

pytestmark = pytest.mark.e2e


def test_ready_watchdog_status_and_stopping_over_a_real_notify_socket(tmp_path: Path) -> None:
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(0.2)
    cfg = tmp_path / "printd.toml"
    port = free_port()
    cfg.write_text(config_text(port=port))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "600000"}
    env.pop("WATCHDOG_PID", None)
    proc = subprocess.Popen([sys.executable, "-m", "printd", "serve", "--config", str(cfg), "--state-dir",
                             str(tmp_path / "state")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    messages: list[str] = []

    def drain(until: float) -> None:
        while time.monotonic() < until:
            try:
                messages.append(sock.recv(4096).decode())
            except TimeoutError:
                pass

    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any("READY=1" in m for m in messages):
            drain(time.monotonic() + 0.2)
        ready = next(m for m in messages if "READY=1" in m)
        # READY comes only when the HTTP socket answers
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        assert "STATUS=" in ready
        drain(time.monotonic() + 1.5)
        assert sum("WATCHDOG=1" in m for m in messages) >= 3
        assert any("printers ready" in m for m in messages)
        proc.send_signal(signal.SIGTERM)
        drain(time.monotonic() + 3)
        # uvicorn re-raises the captured SIGTERM after its orderly shutdown; systemd counts that as clean
        assert proc.wait(20) in (0, -signal.SIGTERM)
        assert any("STOPPING=1" in m for m in messages)
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()
