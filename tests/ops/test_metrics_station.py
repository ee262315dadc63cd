"""The station-level families of `/metrics`: working hours, supervised tasks, webhook backlog.

`printd_task_up` reads `Station.task_health() -> dict[str, bool]` (task name -> running normally), the
contract with task supervision; a station without that method exports the family without samples.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from printd.config import parse
from printd.ops.metrics import StationCollector
from printd.station import Station
from tests.ops.test_metrics import _Clock, _samples, _value
from tests.support import Daemon, all_jobs, config_text, daemon_thread, job_payload, wait_for

WIB = ZoneInfo("Asia/Jakarta")


@pytest.mark.parametrize("when,is_open", [
    (datetime(2026, 11, 30, 9, 0, tzinfo=WIB), 1),     # Monday, 09:00: open (08:00-16:00 by default)
    (datetime(2026, 11, 30, 7, 59, tzinfo=WIB), 0),    # before opening
    (datetime(2026, 11, 30, 16, 0, tzinfo=WIB), 0),    # closing time itself is closed
    (datetime(2026, 12, 5, 10, 0, tzinfo=WIB), 0),     # Saturday
])
def test_station_open_follows_the_configured_working_hours(tmp_path: Path, when: datetime, is_open: int) -> None:
    station = Station(parse(config_text(), "<test>"), tmp_path / "state")
    station.clock = _Clock(when.timestamp())
    family = StationCollector(station, "kota-uji")._open()
    assert [(s.labels, s.value) for s in family.samples] == [({"station": "kota-uji"}, is_open)]


def test_a_station_without_task_health_exports_the_family_empty() -> None:
    # the collector reads only `settings` besides `task_health`; a bare stand-in has no `task_health`
    station = SimpleNamespace(settings=parse(config_text(), "<test>"))
    family = StationCollector(station, "kota-uji")._tasks()   # type: ignore[arg-type]
    assert (family.name, family.samples) == ("printd_task_up", [])


def _deliveries(admin: httpx.Client, state: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = admin.get("/api/v1/webhooks/deliveries",
                                            params={"state": state, "limit": 500}).json()["items"]
    return items


def _submit_with_callbacks(d: Daemon, n: int) -> None:
    with d.client(d.enrollment) as c:
        for i in range(n):
            # nothing listens on port 9: every attempt fails with a refused connection
            assert c.post("/api/v1/jobs", json=job_payload(i, callback_url="http://127.0.0.1:9/hook")).status_code == 201
        wait_for(lambda: all(j["state"] == "printed" for j in all_jobs(c)), timeout=60, what="cards printed")


@pytest.mark.e2e
def test_failing_notifications_and_failing_tasks_show_in_a_real_scrape(tmp_path: Path) -> None:
    with daemon_thread(config_text(), tmp_path / "state") as d, d.client() as admin:
        _submit_with_callbacks(d, 2)
        # every job's first notification has failed at least once; the later ones wait behind it
        wait_for(lambda: sum(n["attempts"] > 0 for n in _deliveries(admin, "pending")) == 2, timeout=30,
                 what="both jobs' notifications failing")
        d.app.state.station.task_health = lambda: {"dispatcher": True, "webhooks": False}
        m = _samples(httpx.get(d.url + "/metrics").text)
        pending = _deliveries(admin, "pending")
    assert _value(m, "printd_webhook_backlog") == len(pending) > 2
    assert _value(m, "printd_webhook_failing") == sum(n["attempts"] > 0 for n in pending) == 2
    assert _value(m, "printd_webhook_failed") == 0
    assert _value(m, "printd_webhook_oldest_pending_age_seconds") > 0
    assert _value(m, "printd_task_up", task="dispatcher") == 1
    assert _value(m, "printd_task_up", task="webhooks") == 0


@pytest.mark.e2e
def test_given_up_notifications_show_in_a_real_scrape(tmp_path: Path) -> None:
    extra = "[webhooks]\nretry_for_s = 1\nbackoff_initial_s = 0.2\nbackoff_max_s = 0.2\n"
    with daemon_thread(config_text(extra=extra), tmp_path / "state") as d, d.client() as admin:
        _submit_with_callbacks(d, 2)
        wait_for(lambda: not _deliveries(admin, "pending"), timeout=60, what="every notification given up")
        m = _samples(httpx.get(d.url + "/metrics").text)
        failed = _deliveries(admin, "failed")
    assert _value(m, "printd_webhook_failed") == len(failed) >= 2
    assert _value(m, "printd_webhook_backlog") == _value(m, "printd_webhook_failing") == 0
    assert _value(m, "printd_webhook_oldest_pending_age_seconds") == 0
