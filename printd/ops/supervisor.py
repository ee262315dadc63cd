"""Long-running tasks under supervision: a task that raises is logged, restarted with backoff, and reported.

Every loop the daemon keeps running (a printer's worker, the dispatcher, webhook delivery, retention,
the status line) is started through `Supervisor.spawn`. Without it an exception nobody expected (a full
disk while a card in doubt is settled, an operator's resolve racing a printer's reconnect) ended the
loop silently: the printer showed `idle`, `/healthz` said ok, and it never printed again.

- An exception is logged once per failure with its traceback, and the task is started again after a
  backoff (0.5 s doubling to 30 s), so a fault that clears by itself (disk space freed) heals.
- A task that failed `FAILING_AFTER` times in a row without then running `STABLE_S` is *failing*:
  `/healthz` says `degraded` and names it, the page shows an alert.
- A task failing for `GIVE_UP_S` means the station cannot recover by itself: `stuck()` turns True and
  the systemd watchdog is no longer fed, so systemd restarts the daemon (a fresh start settles cards
  in doubt from the printers' counters, as after any crash).
- A task that returns normally has ended on purpose (its own stop flag): it is not restarted.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("printd.supervisor")

FAILING_AFTER = 3
STABLE_S = 60.0
GIVE_UP_S = 300.0
BACKOFF_MIN_S = 0.5
BACKOFF_MAX_S = 30.0


@dataclass
class TaskHealth:
    """What the supervisor knows about one task."""

    name: str
    started_at: float = 0.0
    restarts: int = 0
    consecutive: int = 0
    failing_since: float | None = None
    last_error: str | None = None
    running: bool = False


class Supervisor:
    """Starts named tasks, restarts the ones that fail, and says which keep failing."""

    def __init__(self, *, failing_after: int = FAILING_AFTER, stable_s: float = STABLE_S,
                 give_up_s: float = GIVE_UP_S, backoff_min_s: float = BACKOFF_MIN_S,
                 backoff_max_s: float = BACKOFF_MAX_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.failing_after = failing_after
        self.stable_s = stable_s
        self.give_up_s = give_up_s
        self.backoff_min_s = backoff_min_s
        self.backoff_max_s = backoff_max_s
        self.clock = clock
        self.tasks: dict[str, TaskHealth] = {}
        #: called (on the event loop) when the set of failing tasks changes
        self.on_change: list[Callable[[list[str]], None]] = []
        self._failing: list[str] = []

    def spawn(self, name: str, factory: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        """Run `factory()` as task `name`, again after each exception. Cancel the returned task to stop it."""
        health = self.tasks.setdefault(name, TaskHealth(name))
        return asyncio.create_task(self._run(health, factory), name=name)

    async def _run(self, h: TaskHealth, factory: Callable[[], Awaitable[None]]) -> None:
        while True:
            h.started_at = self.clock()
            h.running = True
            try:
                await factory()
            except asyncio.CancelledError:
                h.running = False
                raise
            except Exception as exc:  # noqa: BLE001 - whatever it was: logged with its traceback, restarted
                h.running = False
                delay = self._failed(h, exc)
                await asyncio.sleep(delay)
                h.restarts += 1
                continue
            h.running = False
            self._recovered(h)
            return

    def _failed(self, h: TaskHealth, exc: BaseException) -> float:
        now = self.clock()
        if h.consecutive and now - h.started_at >= self.stable_s:
            # it ran long enough after the last restart: a new fault, not the same one again
            h.consecutive = 0
            h.failing_since = None
        h.consecutive += 1
        if h.failing_since is None:
            h.failing_since = now
        h.last_error = f"{type(exc).__name__}: {exc}"
        delay = min(self.backoff_min_s * 2 ** (h.consecutive - 1), self.backoff_max_s)
        log.error("task %s failed (%d in a row); restarting it in %.1f s", h.name, h.consecutive, delay,
                  exc_info=exc)
        self.failing()   # tells the listeners when the task has just become failing
        return delay

    def _recovered(self, h: TaskHealth) -> None:
        if h.consecutive:
            h.consecutive = 0
            h.failing_since = None
            self.failing()

    def _refresh(self) -> None:
        """A restarted task that has run STABLE_S without failing has recovered."""
        now = self.clock()
        for h in self.tasks.values():
            if h.consecutive and h.running and now - h.started_at >= self.stable_s:
                log.info("task %s has run %.0f s since its last restart: recovered", h.name, now - h.started_at)
                h.consecutive = 0
                h.failing_since = None

    def failing(self) -> list[str]:
        """Names of the tasks that keep failing (FAILING_AFTER failures in a row, not yet recovered)."""
        self._refresh()
        names = sorted(h.name for h in self.tasks.values() if h.consecutive >= self.failing_after)
        if names != self._failing:
            self._failing = names
            for callback in self.on_change:
                try:
                    callback(names)
                except Exception:  # a listener must not take the supervisor down
                    log.exception("supervisor listener failed")
        return names

    def stuck(self) -> bool:
        """A task has kept failing for GIVE_UP_S: the station cannot recover without a restart."""
        self._refresh()
        now = self.clock()
        return any(h.consecutive >= self.failing_after and h.failing_since is not None
                   and now - h.failing_since >= self.give_up_s for h in self.tasks.values())

    def health(self) -> dict[str, bool]:
        """Every task by name: True while it runs normally, False while it keeps failing (metrics)."""
        failing = set(self.failing())
        return {name: name not in failing for name in sorted(self.tasks)}

    def report(self) -> list[dict[str, Any]]:
        """The failing tasks with their last error, for /healthz and the page."""
        names = set(self.failing())
        return [{"task": h.name, "failures": h.consecutive, "restarts": h.restarts, "last_error": h.last_error}
                for h in sorted(self.tasks.values(), key=lambda t: t.name) if h.name in names]
