"""Rolls the printer itself reports: its levels for the supplies view, and a new roll nobody recorded.

A printer that reports its ribbon/film level shows a fresh roll as a jump up in `remaining`. The watch
books it as an install (`detected`) from the oldest lot in the store, so the ledger follows the printer
even when the operator forgot the page.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from printd.drivers.base import PrinterStatus, Supply
from printd.errors import PrintdError
from printd.supplies.service import Level

log = logging.getLogger("printd.supplies")
#: with the roll's capacity unknown, a rise of at least this many prints is a new roll, not noise
MIN_JUMP = 5


def _jump(capacity: int | None) -> int:
    """A rise of a tenth of the roll (at least one print) is a new roll; levels only go down while printing."""
    return max(1, capacity // 10) if capacity else MIN_JUMP


def levels(workers: Iterable[Any]) -> dict[tuple[str, str], Level]:
    """(printer, kind) -> the level each online printer reports now."""
    out: dict[tuple[str, str], Level] = {}
    for w in workers:
        st: PrinterStatus | None = w.status
        if st is None or not w.online:
            continue
        for kind, sup in (("ribbon", st.ribbon), ("film", st.film)):
            if sup is not None:
                out[(w.name, kind)] = Level(sup.remaining, sup.capacity)
    return out


class SupplyWatch:
    """Remembers each printer's last reported levels and books a detected new roll."""

    def __init__(self, station: Any) -> None:
        self.station = station
        self.last: dict[tuple[str, str], int] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def new_rolls(self, printer: str, status: PrinterStatus | None) -> list[str]:
        """Kinds whose level jumped up since the last reading (first readings only remember)."""
        out: list[str] = []
        if status is None:
            return out
        supplies: tuple[tuple[str, Supply | None], ...] = (("ribbon", status.ribbon), ("film", status.film))
        for kind, sup in supplies:
            if sup is None or sup.remaining is None:
                continue
            prev = self.last.get((printer, kind))
            self.last[(printer, kind)] = sup.remaining
            if prev is not None and sup.remaining - prev >= _jump(sup.capacity):
                out.append(kind)
        return out

    def observe(self, worker: Any) -> None:
        """Called on every printer change (event loop): book new rolls in the background."""
        for kind in self.new_rolls(worker.name, worker.status if worker.online else None):
            if kind == "film" and self.station.supplies.technology.get(worker.name) != "retransfer":
                continue
            task = asyncio.get_running_loop().create_task(self._book(worker.name, kind))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _book(self, printer: str, kind: str) -> None:
        try:
            await self.station.db(self.station.supplies.install, printer, kind, "driver", detected=True)
        except PrintdError as exc:   # a closed store at shutdown: the next start sees the level again
            log.warning("could not book the new %s on %s: %s", kind, printer, exc)
            return
        log.info("%s reported a new %s; booked as installed", printer, kind)
        self.station.events.publish("printer", self.station.printer_view(self.station.workers[printer]))
