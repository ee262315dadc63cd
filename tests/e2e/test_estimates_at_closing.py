"""Issue 14, item 11: the estimate of a card that starts just before closing time is when it will be done.

The dispatcher starts a card whenever a printer is able (it never looks at the clock) and a card is
never stopped half-way; the estimate put such a card at the next morning's opening. Here closing time
is set a few seconds ahead of the real clock, so the real daemon's dispatcher and its estimate meet it.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.outsider import daemon
from tests.support import config_text, job_payload, wait_for

pytestmark = pytest.mark.e2e

WIB = ZoneInfo("Asia/Jakarta")
CARD_S = 10.0


def test_a_card_that_starts_before_closing_is_estimated_to_end_after_it_not_tomorrow(tmp_path: Path) -> None:
    now = datetime.now(WIB)
    if now.time() > (datetime.combine(now.date(), datetime.min.time()) + timedelta(hours=23, minutes=58)).time():
        time.sleep(150)   # closing time must fall on the same station day
        now = datetime.now(WIB)
    closes = (now + timedelta(seconds=45)).time().replace(microsecond=0)
    close_at = datetime.combine(now.date(), closes, WIB)
    extra = (f"working_days = [1, 2, 3, 4, 5, 6, 7]\nopens = 00:00:00\ncloses = {closes.isoformat()}\n")
    config = config_text(time_scale=1, seconds_single=CARD_S, seconds_dual=CARD_S)
    config = config.replace("[station]\n", "[station]\n" + extra, 1)
    with daemon(tmp_path, tmp_path / "state", config=config) as d, d.client() as admin, \
            d.client(d.enrollment) as c:
        admin.post("/api/v1/printers/card2/pause", json={"when": "now"})
        # the first card ends ~5 s before closing, the second ~5 s after
        wait = (close_at - datetime.now(WIB)).total_seconds() - 1.5 * CARD_S
        assert wait > 0, "the daemon took too long to start"
        time.sleep(wait)
        first = c.post("/api/v1/jobs", json=job_payload(1)).json()["id"]
        started = wait_for(lambda: (j := c.get(f"/api/v1/jobs/{first}").json())["state"] == "printing" and j,
                           timeout=20, what="the first card printing")
        second = c.post("/api/v1/jobs", json=job_payload(2)).json()
        assert second["state"] == "queued" and second["position"] == 1
        estimate = datetime.fromisoformat(second["estimated_done_at"])
        first_done = datetime.fromisoformat(started["estimated_done_at"])
        # it starts when the first card is done, before closing, and ends one card later: today
        assert first_done < close_at, (first_done, close_at)
        assert abs((estimate - first_done).total_seconds() - CARD_S) < 2.0, (estimate, first_done)
        assert estimate > close_at
        # and that is what the dispatcher does
        done = wait_for(lambda: (j := c.get(f"/api/v1/jobs/{second['id']}").json())["state"] == "printed" and j,
                        timeout=60, what="the second card printed")
        printed_at = datetime.fromisoformat(done["printed_at"])
        assert abs((printed_at - estimate).total_seconds()) < 5.0, (printed_at, estimate)
