"""The supervisor of long-running tasks (printd/ops/supervisor.py): restart, report, give up."""
from __future__ import annotations

import asyncio
import logging

import pytest

from printd.ops.supervisor import Supervisor


class Clock:
    """A clock the test moves by hand (no timing assertions)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _supervisor(clock: Clock) -> Supervisor:
    return Supervisor(failing_after=3, stable_s=60.0, give_up_s=300.0, backoff_min_s=0.0, backoff_max_s=0.0,
                      clock=clock)


async def test_a_task_that_raises_is_logged_with_its_traceback_and_restarted(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    sup = _supervisor(clock)
    runs: list[int] = []
    done = asyncio.Event()

    async def flaky() -> None:
        runs.append(1)
        if len(runs) < 3:
            raise OSError(28, "No space left on device")
        done.set()
        await asyncio.Event().wait()   # then runs for good

    caplog.set_level(logging.ERROR, "printd.supervisor")
    task = sup.spawn("printer-card1", flaky)
    await asyncio.wait_for(done.wait(), 5)
    assert len(runs) == 3
    failures = [r for r in caplog.records if "task printer-card1 failed" in r.getMessage()]
    assert len(failures) == 2 and all(r.exc_info for r in failures)
    assert sup.failing() == []          # two failures: not yet "keeps failing"
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_task_that_keeps_failing_is_reported_then_stuck_then_recovered() -> None:
    clock = Clock()
    sup = _supervisor(clock)
    changes: list[list[str]] = []
    sup.on_change.append(changes.append)
    fail = [True]
    running = asyncio.Event()

    async def settle() -> None:
        if fail[0]:
            raise RuntimeError("database is read-only")
        running.set()
        await asyncio.Event().wait()

    task = sup.spawn("dispatcher", settle)
    for _ in range(100):
        await asyncio.sleep(0)
        if sup.failing():
            break
    assert sup.failing() == ["dispatcher"]
    assert sup.health() == {"dispatcher": False}
    assert changes[0] == ["dispatcher"]
    report = sup.report()
    assert report[0]["task"] == "dispatcher" and "read-only" in report[0]["last_error"]
    assert not sup.stuck()
    clock.now += 301
    assert sup.stuck()
    fail[0] = False
    await asyncio.wait_for(running.wait(), 5)
    assert sup.failing() == ["dispatcher"]   # running again, but not yet for STABLE_S
    clock.now += 61
    assert sup.failing() == [] and not sup.stuck()
    assert sup.health() == {"dispatcher": True}
    assert changes[-1] == []
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_task_that_returns_is_not_restarted() -> None:
    sup = _supervisor(Clock())
    runs: list[int] = []

    async def once() -> None:
        runs.append(1)

    await sup.spawn("retention", once)
    assert runs == [1] and sup.failing() == []
