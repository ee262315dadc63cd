"""sd_notify against a real unix datagram socket standing in for systemd's notify socket."""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from printd.ops.systemd import Notifier, watchdog_interval_s, watchdog_loop

STALL_S = 1.0
PING_INTERVAL_S = 0.05  # WATCHDOG_USEC=100000 -> half of 0.1 s


class Collector:
    """Receives datagrams on a bound socket in a thread, in arrival order (which is send order)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.messages: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self.sock.settimeout(0.05)
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.messages.append(data.decode())

    def snapshot(self) -> list[str]:
        with self._lock:
            return list(self.messages)

    def wait_for(self, predicate: Callable[[list[str]], bool], timeout: float = 5.0) -> list[str]:
        """Wait (blocking the caller, not the collector) until predicate(messages) holds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msgs = self.snapshot()
            if predicate(msgs):
                return msgs
            time.sleep(0.01)
        raise AssertionError(f"timed out; received {self.snapshot()!r}")

    async def await_for(self, predicate: Callable[[list[str]], bool], timeout: float = 5.0) -> list[str]:
        """Like wait_for, but yields to the event loop while waiting."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msgs = self.snapshot()
            if predicate(msgs):
                return msgs
            await asyncio.sleep(0.01)
        raise AssertionError(f"timed out; received {self.snapshot()!r}")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def notify_socket() -> Iterator[tuple[str, Collector]]:
    """A real notify socket in a short tmp dir (unix socket paths are limited to 107 bytes)."""
    with tempfile.TemporaryDirectory(prefix="printd-sd-") as tmp:
        path = str(Path(tmp) / "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        collector = Collector(sock)
        try:
            yield path, collector
        finally:
            collector.close()


def pings(messages: list[str]) -> int:
    return sum(1 for m in messages if "WATCHDOG=1" in m.split("\n"))


def test_ready_and_status_arrive(notify_socket: tuple[str, Collector]) -> None:
    path, got = notify_socket
    notifier = Notifier({"NOTIFY_SOCKET": path})
    assert notifier.enabled
    assert notifier.ready("2 printers, 0 queued")
    assert notifier.status("card1 printing job 42")
    msgs = got.wait_for(lambda m: len(m) >= 2)
    assert msgs[0] == "READY=1\nSTATUS=2 printers, 0 queued"
    assert msgs[1] == "STATUS=card1 printing job 42"


def test_status_text_is_kept_to_one_line(notify_socket: tuple[str, Collector]) -> None:
    path, got = notify_socket
    notifier = Notifier({"NOTIFY_SOCKET": path})
    # a newline would smuggle a second assignment (READY=1) into the datagram
    notifier.status("line one\nREADY=1")
    assert got.wait_for(lambda m: len(m) >= 1) == ["STATUS=line one READY=1"]


def test_stopping_watchdog_and_extend_timeout(notify_socket: tuple[str, Collector]) -> None:
    path, got = notify_socket
    notifier = Notifier({"NOTIFY_SOCKET": path})
    notifier.watchdog()
    notifier.extend_timeout(1.5)
    notifier.stopping("finishing the card in flight")
    notifier.ready()
    assert got.wait_for(lambda m: len(m) >= 4) == [
        "WATCHDOG=1",
        "EXTEND_TIMEOUT_USEC=1500000",
        "STOPPING=1\nSTATUS=finishing the card in flight",
        "READY=1",
    ]


def test_abstract_namespace_socket() -> None:
    name = f"printd-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    got = Collector(sock)
    try:
        notifier = Notifier({"NOTIFY_SOCKET": "@" + name})
        assert notifier.enabled
        assert notifier.ready("up")
        assert got.wait_for(lambda m: len(m) >= 1) == ["READY=1\nSTATUS=up"]
    finally:
        got.close()


def test_without_notify_socket_everything_is_a_no_op() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert notifier.ready("x") is False
    assert notifier.watchdog() is False
    assert notifier.stopping() is False
    # an unknown address family (vsock:...) is not guessed at
    assert not Notifier({"NOTIFY_SOCKET": "vsock:2:1234"}).enabled


def test_vanished_socket_never_raises_and_warns_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    with caplog.at_level(logging.WARNING, logger="printd.ops.systemd"):
        assert notifier.ready("up") is False
        assert notifier.watchdog() is False
    warnings = [r for r in caplog.records if "sd_notify" in r.getMessage()]
    assert len(warnings) == 1


def test_process_environment_is_the_default(notify_socket: tuple[str, Collector], monkeypatch) -> None:
    path, got = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    notifier = Notifier()
    assert notifier.watchdog_interval_s() == 15.0
    notifier.ready()
    assert got.wait_for(lambda m: len(m) >= 1) == ["READY=1"]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "<self>"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "<other>"}, None),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "garbage"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "-5"}, None),
        ({"WATCHDOG_USEC": "30s"}, None),
        ({}, None),
    ],
)
def test_watchdog_interval(env: dict[str, str], expected: float | None) -> None:
    env = dict(env)
    if env.get("WATCHDOG_PID") == "<self>":
        env["WATCHDOG_PID"] = str(os.getpid())
    elif env.get("WATCHDOG_PID") == "<other>":
        env["WATCHDOG_PID"] = str(os.getpid() + 1)
    assert watchdog_interval_s(env) == expected
    assert Notifier({**env, "NOTIFY_SOCKET": "/nonexistent"}).watchdog_interval_s() == expected


def _loop_env(path: str) -> dict[str, str]:
    return {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "100000", "WATCHDOG_PID": str(os.getpid())}


async def test_watchdog_loop_pings_and_sends_status_only_on_change(
    notify_socket: tuple[str, Collector],
) -> None:
    path, got = notify_socket
    notifier = Notifier(_loop_env(path))
    assert notifier.watchdog_interval_s() == PING_INTERVAL_S
    current = ["idle"]
    task = asyncio.create_task(watchdog_loop(notifier, lambda: current[0]))
    try:
        await got.await_for(lambda m: pings(m) >= 5)
        current[0] = "card1 printing"
        await got.await_for(lambda m: any("STATUS=card1 printing" in x for x in m))
        before = pings(got.snapshot())
        await got.await_for(lambda m: pings(m) >= before + 5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    msgs = got.snapshot()
    statuses = [line for m in msgs for line in m.split("\n") if line.startswith("STATUS=")]
    # ten-odd ticks, but the text changed once: two STATUS= lines, not one per ping
    assert statuses == ["STATUS=idle", "STATUS=card1 printing"]
    assert msgs[0] == "WATCHDOG=1\nSTATUS=idle"


async def test_stalled_event_loop_stops_the_pings(notify_socket: tuple[str, Collector]) -> None:
    path, got = notify_socket
    notifier = Notifier(_loop_env(path))
    task = asyncio.create_task(watchdog_loop(notifier, lambda: "ok"))
    marker = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    async def stall() -> None:
        # a sync call that hangs inside a coroutine: the whole loop stops with it
        marker.sendto(b"MARK=stall-begin", path)
        time.sleep(STALL_S)  # noqa: ASYNC251 - the point: a blocking call stalls the event loop
        marker.sendto(b"MARK=stall-end", path)

    try:
        await got.await_for(lambda m: pings(m) >= 3)
        await stall()
        after = await got.await_for(
            lambda m: "MARK=stall-end" in m and pings(m[m.index("MARK=stall-end"):]) >= 3
        )
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        marker.close()
    begin, end = after.index("MARK=stall-begin"), after.index("MARK=stall-end")
    # the datagrams arrive in send order, so the markers bracket exactly what was sent during the stall
    assert pings(after[begin:end]) == 0
    # ...while before and after it the loop pinged every 0.05 s
    assert pings(after[:begin]) >= 3
    assert pings(after[end:]) >= 3


async def test_watchdog_loop_survives_a_failing_status_function(
    notify_socket: tuple[str, Collector],
) -> None:
    path, got = notify_socket
    notifier = Notifier(_loop_env(path))

    def broken() -> str:
        raise RuntimeError("station not ready")

    task = asyncio.create_task(watchdog_loop(notifier, broken))
    try:
        msgs = await got.await_for(lambda m: pings(m) >= 3)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert all(m == "WATCHDOG=1" for m in msgs)


async def test_watchdog_loop_without_watchdog_only_updates_status(
    notify_socket: tuple[str, Collector],
) -> None:
    path, got = notify_socket
    notifier = Notifier({"NOTIFY_SOCKET": path})  # no WatchdogSec= in the unit
    task = asyncio.create_task(watchdog_loop(notifier, lambda: "idle", status_refresh_s=0.02))
    try:
        await got.await_for(lambda m: len(m) >= 1)
        await asyncio.sleep(0.2)  # ten refreshes of an unchanged text
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert got.snapshot() == ["STATUS=idle"]


async def test_watchdog_loop_returns_at_once_when_not_under_systemd() -> None:
    await asyncio.wait_for(watchdog_loop(Notifier({}), lambda: "x"), timeout=1.0)


async def test_a_station_that_cannot_recover_stops_feeding_the_watchdog(
    notify_socket: tuple[str, Collector],
) -> None:
    """Issue 14: a supervised task failing for good withholds the pings, so systemd restarts printd."""
    path, got = notify_socket
    notifier = Notifier(_loop_env(path))
    alive = [True]
    marker = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    task = asyncio.create_task(watchdog_loop(notifier, lambda: "ok", alive=lambda: alive[0]))
    try:
        await got.await_for(lambda m: pings(m) >= 3)
        alive[0] = False
        await asyncio.sleep(PING_INTERVAL_S * 2)   # a ping already on its way may still arrive
        marker.sendto(b"MARK=stuck", path)
        await got.await_for(lambda m: "MARK=stuck" in m)
        await asyncio.sleep(PING_INTERVAL_S * 5)
        marker.sendto(b"MARK=end", path)
        msgs = await got.await_for(lambda m: "MARK=end" in m)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        marker.close()
    assert pings(msgs[msgs.index("MARK=stuck"):msgs.index("MARK=end")]) == 0
