"""The typed client against the real server (uvicorn in a thread), with real lost answers and refusals."""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from printd.client import ApiError, PrintdClient
from tests.support import Daemon, config_text, daemon_thread, job_payload


@pytest.fixture(scope="module")
def d(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with daemon_thread(config_text(time_scale=1000.0), tmp_path_factory.mktemp("client") / "state") as daemon:
        yield daemon


class Flaky(httpx.BaseTransport):
    """Forwards to the real server over TCP, but can lose answers or refuse before sending.

    `lose_answers`: the request reaches the server and is processed, then the answer is lost (ReadError),
    as when a network link drops mid-response. `busy`: the first N requests get a 503 with Retry-After
    without reaching the server.
    """

    def __init__(self, lose_answers: int = 0, busy: int = 0) -> None:
        self.real = httpx.HTTPTransport()
        self.lose_answers = lose_answers
        self.busy = busy
        self.sent: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        if self.busy:
            self.busy -= 1
            body = json.dumps({"error": {"code": "store_unavailable", "message": "busy", "field": None}})
            return httpx.Response(503, headers={"Retry-After": "7", "Content-Type": "application/json"},
                                  content=body.encode(), request=request)
        response = self.real.handle_request(request)
        response.read()
        if self.lose_answers:
            self.lose_answers -= 1
            raise httpx.ReadError("connection reset while reading the answer", request=request)
        return response

    def close(self) -> None:
        self.real.close()


def client(d: Daemon, token: str, transport: Flaky | None = None, sleeps: list[float] | None = None) -> PrintdClient:
    return PrintdClient(d.url, token, transport=transport, backoff_s=0.01,
                        sleep=sleeps.append if sleeps is not None else (lambda _s: None))


def body_of(r: httpx.Request) -> dict[str, Any]:
    return json.loads(r.content)  # type: ignore[no-any-return]


def test_submit_requires_the_callers_request_id_and_reuses_it_after_a_lost_answer(d: Daemon) -> None:
    payload = job_payload(100)
    del payload["request_id"]
    with client(d, d.enrollment) as c, pytest.raises(ValueError, match="request_id"):
        c.submit(payload)   # an id made up here would be lost with the caller's process
    flaky = Flaky(lose_answers=2)
    payload = job_payload(100)
    with client(d, d.enrollment, flaky) as c:
        job = c.submit(payload)
    sent = [body_of(r)["request_id"] for r in flaky.sent]
    assert sent == [payload["request_id"]] * 3
    assert job["request_id"] == payload["request_id"]
    # the server got three identical requests and made one job of them
    with client(d, d.admin) as admin:
        same = [j for j in admin.list_jobs(limit=None) if j["request_id"] == sent[0]]
    assert [j["id"] for j in same] == [job["id"]]


def test_deliveries_follow_pages_and_jobs_list_newest_first(d: Daemon) -> None:
    from tests.webhook_receiver import Receiver

    receiver = Receiver().start()
    try:
        with client(d, d.enrollment) as c:
            ids = [c.submit(job_payload(300 + i, callback_url=receiver.url()))["id"] for i in range(3)]
            newest = c.list_jobs(limit=None, newest_first=True, page_size=1)
            assert [j["id"] for j in newest][:3] == ids[::-1]
            # every delivery, across pages of 2
            all_of_them = c.deliveries(limit=None, page_size=2)
            assert len(all_of_them) >= 3 and len({x["event_id"] for x in all_of_them}) == len(all_of_them)
            assert len(c.deliveries(limit=2, page_size=1)) == 2
    finally:
        receiver.stop()


def test_submit_waits_as_retry_after_says_then_succeeds(d: Daemon) -> None:
    sleeps: list[float] = []
    flaky = Flaky(busy=2)
    with client(d, d.enrollment, flaky, sleeps) as c:
        job = c.submit(job_payload(101))
    assert sleeps == [7.0, 7.0] and job["request_id"] == "TEST-000101" and job["state"] in ("queued", "printing",
                                                                                            "printed")


def test_same_request_id_with_other_content_is_a_conflict_not_retried(d: Daemon) -> None:
    flaky = Flaky()
    with client(d, d.enrollment, flaky) as c:
        first = c.submit(job_payload(102))
        again = c.submit(job_payload(102))
        assert again["id"] == first["id"]
        with pytest.raises(ApiError) as exc:
            c.submit(job_payload(102, name="SOMEONE ELSE"))
    assert (exc.value.status, exc.value.code, exc.value.field) == (409, "request_id_conflict", "request_id")
    assert len(flaky.sent) == 3


def test_refusals_carry_the_contract_error(d: Daemon) -> None:
    with client(d, d.enrollment) as c:
        with pytest.raises(ApiError) as exc:
            c.submit(job_payload(103, nik="123"))
        assert (exc.value.status, exc.value.code, exc.value.field) == (422, "invalid_nik", "nik")
        with pytest.raises(ApiError) as missing:
            c.get("j_DOESNOTEXIST")
        assert (missing.value.status, missing.value.code) == (404, "job_not_found")
    with client(d, "pd_not-a-real-token") as bad, pytest.raises(ApiError) as denied:
        bad.get("j_x")
    assert denied.value.status == 401


def test_wait_returns_the_printed_job(d: Daemon) -> None:
    with client(d, d.enrollment) as c:
        job = c.submit(job_payload(104))
        done = c.wait(job["id"], timeout_s=30, poll_s=0.05)
    assert done["state"] == "printed" and done["printed_at"] and done["attempts"][-1]["outcome"] == "printed"


def test_cancel_a_queued_job_and_wait_sees_it_final(d: Daemon) -> None:
    admin = d.client()
    for name in ("card1", "card2"):
        assert admin.post(f"/api/v1/printers/{name}/pause", json={"when": "now"}).status_code == 200
    try:
        with client(d, d.enrollment) as c:
            job = c.submit(job_payload(105))
            assert job["state"] == "queued"
            canceled = c.cancel(job["id"])
            assert canceled["state"] == "canceled"
            assert c.wait(job["id"], timeout_s=5)["state"] == "canceled"
            with pytest.raises(ApiError) as exc:
                c.cancel(job["id"])
            assert (exc.value.status, exc.value.code) == (409, "illegal_state")
            # an answer lost on the way back: the client reads the job instead of failing
            lost = Flaky(lose_answers=1)
            with client(d, d.enrollment, lost) as c2:
                job2 = c2.submit(job_payload(106))
                lost.lose_answers = 1
                assert c2.cancel(job2["id"])["state"] == "canceled"
    finally:
        for name in ("card1", "card2"):
            admin.post(f"/api/v1/printers/{name}/resume")


def test_wait_gives_up_after_its_timeout(d: Daemon) -> None:
    admin = d.client()
    admin.post("/api/v1/printers/card1/pause", json={"when": "now"})
    admin.post("/api/v1/printers/card2/pause", json={"when": "now"})
    try:
        with client(d, d.enrollment) as c:
            job = c.submit(job_payload(107))
            with pytest.raises(TimeoutError, match="still queued"):
                c.wait(job["id"], timeout_s=0, poll_s=0)
            c.cancel(job["id"])
    finally:
        admin.post("/api/v1/printers/card1/resume")
        admin.post("/api/v1/printers/card2/resume")


def test_list_follows_cursors_and_an_enrollment_client_sees_its_own(d: Daemon) -> None:
    other_token, _ = d.app.state.accounts.create_token("client-list-test", "enrollment")
    with client(d, other_token) as other:
        mine = [other.submit(job_payload(200 + i))["id"] for i in range(5)]
        assert [j["id"] for j in other.list_jobs(page_size=2, limit=None)] == mine
        assert [j["id"] for j in other.list_jobs(page_size=2, limit=3)] == mine[:3]
        assert [j["id"] for j in other.iter_jobs(page_size=1)] == mine
    with client(d, d.admin) as admin:
        everything = [j["id"] for j in admin.list_jobs(limit=None, page_size=500)]
    assert set(mine) < set(everything)
