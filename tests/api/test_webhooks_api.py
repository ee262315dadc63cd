"""Webhooks through the real HTTP server: callbacks refused at submission, given-up deliveries, retry."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import Daemon, config_text, daemon_thread, free_port, job_payload, wait_for
from tests.webhook_receiver import Receiver

#: deliveries give up fast, so a receiver that is down shows as failed within a second
CONFIG = config_text(extra="[server]\ncallback_hosts = [\"enrollment.office.lan\"]\n"
                           "[webhooks]\nretry_for_s = 0.3\nbackoff_initial_s = 0.02\nbackoff_max_s = 0.1\n")


@pytest.fixture
def d(tmp_path: Path) -> Iterator[Daemon]:
    with daemon_thread(CONFIG, tmp_path / "state") as daemon:
        yield daemon


def test_callback_hosts_are_loopback_or_listed(d: Daemon) -> None:
    c = d.client(d.enrollment)
    for i, url in enumerate(("http://10.1.2.3/hook", "http://evil.example/hook", "ftp://127.0.0.1/x", "/relative")):
        r = c.post("/api/v1/jobs", json=job_payload(i, callback_url=url))
        assert r.status_code == 422, url
        assert r.json()["error"]["field"] == "callback_url"
    for i, url in enumerate(("http://127.0.0.1:9/x", "http://localhost:9/x", "http://[::1]:9/x",
                             "https://enrollment.office.lan/printd")):
        assert c.post("/api/v1/jobs", json=job_payload(10 + i, callback_url=url)).status_code == 201, url


def test_a_given_up_delivery_is_visible_and_can_be_retried_with_its_event_id(d: Daemon) -> None:
    port = free_port()  # nobody listens yet: connections are refused
    enrollment = d.client(d.enrollment)
    operator = d.client(d.admin)
    job = enrollment.post("/api/v1/jobs", json=job_payload(1, callback_url=f"http://127.0.0.1:{port}/hook")).json()
    assert job["notifications"]["failed"] == 0

    def job_now() -> dict[str, object]:
        return enrollment.get(f"/api/v1/jobs/{job['id']}").json()  # type: ignore[no-any-return]

    settled = wait_for(lambda: (j := job_now())["state"] == "printed" and j["notifications"]["pending"] == 0 and j,
                       timeout=20, what="job printed and its notifications given up")
    assert settled["notifications"] == {"pending": 0, "delivered": 0, "failed": 3}

    failed = operator.get("/api/v1/webhooks/deliveries", params={"state": "failed"}).json()
    assert [x["job_id"] for x in failed["items"]] == [job["id"]] * 3 and failed["next_cursor"] is None
    newest = failed["items"][0]
    assert newest["state"] == "failed" and newest["gave_up_at"] and newest["next_attempt_at"] is None
    assert newest["last_error"].startswith("ConnectError")
    # the enrollment client sees its own; it may not retry (operator's job)
    mine = enrollment.get("/api/v1/webhooks/deliveries", params={"job_id": job["id"]}).json()["items"]
    assert [x["event_id"] for x in mine] == [x["event_id"] for x in failed["items"]]
    assert enrollment.post(f"/api/v1/webhooks/deliveries/{newest['event_id']}/retry").status_code == 403

    one = operator.get(f"/api/v1/webhooks/deliveries/{newest['event_id']}").json()
    assert one["body"]["event_id"] == newest["event_id"] and one["body"]["job"]["state"] == "printed"
    assert one["body"]["type"] == "job.state_changed"

    secret = d.app.state.accounts.webhook_secret("enrollment")
    with Receiver(port) as rx:
        for item in reversed(failed["items"]):  # oldest first, as the receiver expects
            r = operator.post(f"/api/v1/webhooks/deliveries/{item['event_id']}/retry")
            assert r.status_code == 200 and r.json()["state"] == "pending"
            wait_for(lambda e=item["event_id"]: e in {x.event_id for x in rx.snapshot()}, timeout=10,
                     what="retried notification")
        got = rx.snapshot()
        assert [x.event_id for x in got] == [x["event_id"] for x in reversed(failed["items"])]
        assert [x.state for x in got] == ["queued", "printing", "printed"]
        assert all(x.signed_by(secret) for x in got)
        assert got[-1].body.decode() == json.dumps(one["body"], separators=(",", ":"))
    again = operator.post(f"/api/v1/webhooks/deliveries/{newest['event_id']}/retry")
    assert again.status_code == 409 and again.json()["error"]["code"] == "illegal_state"
    assert job_now()["notifications"] == {"pending": 0, "delivered": 3, "failed": 0}


def test_deliveries_are_scoped_paged_and_validated(d: Daemon) -> None:
    other_token, _ = d.app.state.accounts.create_token("other-system", "enrollment")
    enrollment = d.client(d.enrollment)
    url = f"http://127.0.0.1:{free_port()}/hook"
    for i in range(2):
        assert enrollment.post("/api/v1/jobs", json=job_payload(i, callback_url=url)).status_code == 201
    plain = enrollment.post("/api/v1/jobs", json=job_payload(5)).json()
    assert plain["notifications"] is None  # no callback_url, nothing to notify
    wait_for(lambda: len(enrollment.get("/api/v1/webhooks/deliveries", params={"limit": 500}).json()["items"]) >= 6,
             timeout=20, what="notifications written")
    assert d.client(other_token).get("/api/v1/webhooks/deliveries").json()["items"] == []
    pages, cursor = [], None
    while True:
        params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        page = d.client().get("/api/v1/webhooks/deliveries", params=params).json()
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    ids = [x["event_id"] for p in pages for x in p]
    assert len(ids) == len(set(ids)) == 6 and [len(p) for p in pages] == [4, 2]  # no overlap, nothing missed
    bad = d.client().get("/api/v1/webhooks/deliveries", params={"cursor": "nonsense"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_cursor"
    assert d.client().get("/api/v1/webhooks/deliveries", params={"state": "lost"}).status_code == 422
    missing = d.client().get("/api/v1/webhooks/deliveries/evt_nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "delivery_not_found"
    assert d.client("pd_wrong").get("/api/v1/webhooks/deliveries").status_code == 401
