"""Issue 14, item 11: contract gaps found from outside, each against the real daemon.

- a read-only filesystem under the card images -> 503 `store_unavailable` with Retry-After (was 500);
- a huge numeric cursor -> 422 `invalid_cursor` (was 500: SQLite integers are 64-bit);
- an operator's cancel of a printing card survives the card going in doubt (it was overwritten by the
  doubt's reason, and settling the card as spoiled queued it again: printed after being canceled).
"""
from __future__ import annotations

import base64
from pathlib import Path

import pytest

from printd.queue.store import encode_cursor
from tests.e2e.outsider import daemon, mount_tmpfs, remount, umount
from tests.support import config_text, job_payload, printed_log, wait_for

pytestmark = pytest.mark.e2e


def test_read_only_image_store_answers_503_with_retry_after_and_writes_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state"
    images = state / "images"
    mount_tmpfs(images, "100m")
    try:
        with daemon(tmp_path, state) as d, d.client(d.enrollment) as c:
            assert c.post("/api/v1/jobs", json=job_payload(1)).status_code == 201
            before = len(c.get("/api/v1/jobs").json()["items"])
            remount(images, "ro")
            try:
                for body in (job_payload(2),                          # a new image: written
                             job_payload(3, front=job_payload(1)["front"])):   # a known one: touched
                    r = c.post("/api/v1/jobs", json=body)
                    assert r.status_code == 503, r.text
                    assert r.json()["error"]["code"] == "store_unavailable"
                    assert r.headers["Retry-After"].isdigit()
                assert len(c.get("/api/v1/jobs").json()["items"]) == before
            finally:
                remount(images, "rw")
            assert c.post("/api/v1/jobs", json=job_payload(2)).status_code == 201
    finally:
        umount(images)


@pytest.mark.parametrize("cursor", [
    encode_cursor(10 ** 30),
    base64.urlsafe_b64encode(b"s" + b"9" * 4000).decode().rstrip("="),
    base64.urlsafe_b64encode(b"s-1").decode().rstrip("="),
])
def test_a_huge_or_negative_cursor_is_422(tmp_path: Path, cursor: str) -> None:
    with daemon(tmp_path, tmp_path / "state") as d, d.client() as c:
        r = c.get("/api/v1/jobs", params={"cursor": cursor[:100]})
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "invalid_cursor"
        assert c.get("/api/v1/jobs").status_code == 200


def test_a_cancel_survives_the_card_going_in_doubt(tmp_path: Path) -> None:
    # a 20 s card, given up as in doubt 6 s after it started (three times the 2 s dual-sided time), so
    # the card is still in the printer when the hang ends and the printer acts on the cancel
    config = config_text(time_scale=1, seconds_single=20.0, seconds_dual=2.0)
    state = tmp_path / "state"
    with daemon(tmp_path, state, config=config) as d, d.client() as admin, d.client(d.enrollment) as c:
        admin.post("/api/v1/printers/card2/pause", json={"when": "now"})
        job = c.post("/api/v1/jobs", json=job_payload(1)).json()["id"]
        wait_for(lambda: c.get(f"/api/v1/jobs/{job}").json()["state"] == "printing", timeout=30, what="printing")
        assert admin.post("/api/v1/printers/card1/faults", json={"kind": "hang"}).status_code == 200
        r = admin.post(f"/api/v1/jobs/{job}/cancel")
        assert r.status_code == 200 and r.json()["state_reason"] == "cancel-requested"
        doubt = wait_for(lambda: (j := admin.get(f"/api/v1/jobs/{job}").json())["state"] == "in_doubt" and j,
                         timeout=30, what="in doubt")
        assert doubt["state_reason"] == "cancel-requested"
        # the printer answers: the card was spoiled by the cancel; the job stays canceled, never reprinted
        admin.delete("/api/v1/printers/card1/faults")
        final = wait_for(lambda: (j := admin.get(f"/api/v1/jobs/{job}").json())["state"] in
                         ("canceled", "printed", "queued", "failed") and j, timeout=30, what="settled")
        assert final["state"] == "canceled", final
        admin.post("/api/v1/printers/card2/resume")
        with pytest.raises(TimeoutError):
            wait_for(lambda: admin.get(f"/api/v1/jobs/{job}").json()["state"] != "canceled", timeout=3)
        assert job not in [r["job_id"] for p in ("card1", "card2") for r in printed_log(state, p)]
