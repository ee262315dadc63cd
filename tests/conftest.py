"""Layered fixtures: settings -> store -> station -> running daemon."""
from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from printd.clock import StationClock
from printd.config import Settings, parse
from printd.queue.db import Database
from printd.queue.store import Store
from printd.station import Station
from tests.browser import browser, no_uncaught_script_errors  # noqa: F401  (Debian's Chromium for the page tests, per module; none may throw)
from tests.conftest_cups import cups_harness, cups_socket, cups_socket_station, cups_station  # noqa: F401  (one private CUPS per session)
from tests.conftest_pcsc import pcscd  # noqa: F401  (one private pcscd per session)
from tests.conftest_wheelhouse import wheelhouse  # noqa: F401  (one offline wheelhouse per session)
from tests.support import Daemon, config_text, daemon_thread


@pytest.fixture
def settings() -> Settings:
    return parse(config_text(), "<test>")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "printd.sqlite3")
    yield database
    database.close()


@pytest.fixture
def store(db: Database) -> Store:
    return Store(db, StationClock("Asia/Jakarta"), max_attempts=3)


@pytest.fixture
async def station(settings: Settings, tmp_path: Path) -> AsyncIterator[Station]:
    st = Station(settings, tmp_path / "state")
    await st.start()
    try:
        yield st
    finally:
        await st.stop()


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    with daemon_thread(config_text(), tmp_path / "state") as d:
        yield d
