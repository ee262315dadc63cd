"""The job API over real HTTP: idempotency, bad input, roles."""
from __future__ import annotations

import base64
import io
import sqlite3
import struct
import zlib

import httpx
import pytest
from PIL import Image

from tests.support import Daemon, job_payload, png_b64, wait_for

pytestmark = pytest.mark.e2e


def _count_jobs(d: Daemon) -> int:
    conn = sqlite3.connect(d.state_dir / "printd.sqlite3")
    try:
        return int(conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])
    finally:
        conn.close()


def _bomb_png() -> str:
    """A tiny PNG that claims 30000 x 30000 pixels (a decompression bomb)."""
    width = height = 30000
    raw = zlib.compress(b"\x00" * 1000)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", raw) + chunk(b"IEND", b""))
    return base64.b64encode(png).decode()


def test_submit_then_follow_to_printed(daemon: Daemon) -> None:
    with daemon.client(daemon.enrollment) as c:
        r = c.post("/api/v1/jobs", json=job_payload(1))
        assert r.status_code == 201
        job = r.json()
        assert job["nik_masked"] == "3274********0002" and job["client"] == "enrollment"
        assert job["state"] in ("queued", "printing") and job["id"].startswith("j_")
        done = wait_for(lambda: (j := c.get(f"/api/v1/jobs/{job['id']}").json())["state"] == "printed" and j,
                        timeout=20, what="printed")
        assert done["printer"] in ("card1", "card2") and done["printed_at"]
        assert done["attempts"][0]["outcome"] == "printed"


def test_same_request_id_is_one_job_and_other_content_is_409(daemon: Daemon) -> None:
    with daemon.client(daemon.enrollment) as c:
        first = c.post("/api/v1/jobs", json=job_payload(5))
        again = c.post("/api/v1/jobs", json=job_payload(5))
        assert (first.status_code, again.status_code) == (201, 200)
        assert first.json()["id"] == again.json()["id"]
        clash = c.post("/api/v1/jobs", json=job_payload(5, name="ORANG LAIN"))
        assert clash.status_code == 409
        assert clash.json()["error"]["code"] == "request_id_conflict"
        assert clash.json()["error"]["field"] == "request_id"
    assert _count_jobs(daemon) == 1


def _not_png() -> dict:
    return {"content_type": "image/png", "data": base64.b64encode(b"this is not a picture").decode()}


def _svg_as_png() -> dict:
    return {"content_type": "image/png", "data": base64.b64encode(b"<svg xmlns='http://www.w3.org/2000/svg'/>").decode()}


def _square() -> dict:
    buf = io.BytesIO()
    Image.new("RGB", (400, 400), "white").save(buf, "PNG")
    return {"content_type": "image/png", "data": base64.b64encode(buf.getvalue()).decode()}


def _truncated() -> dict:
    raw = base64.b64decode(png_b64(1))
    return {"content_type": "image/png", "data": base64.b64encode(raw[: len(raw) // 2]).decode()}


@pytest.mark.parametrize("change,status,code,field", [
    ({"nik": "12345"}, 422, "invalid_nik", "nik"),
    ({"nik": "9974011203900001"}, 422, "invalid_nik", "nik"),
    ({"nik": "3274013213900001"}, 422, "invalid_nik", "nik"),
    ({"nik": "3274011203900000"}, 422, "invalid_nik", "nik"),
    ({"front": None}, 422, "validation_error", "front"),
    ({"front": _not_png()}, 422, "invalid_image", "front.data"),
    ({"front": _svg_as_png()}, 422, "invalid_image", "front.data"),
    ({"front": _truncated()}, 422, "invalid_image", "front.data"),
    ({"front": _square()}, 422, "invalid_aspect", "front.data"),
    ({"front": {"content_type": "image/gif", "data": png_b64(1)}}, 415, "unsupported_image_type", "front.content_type"),
    ({"front": {"content_type": "image/png", "data": _bomb_png()}}, 422, "image_too_large_dimensions", "front.data"),
    ({"front": {"content_type": "image/png", "data": "%%%"}}, 422, "invalid_image", "front.data"),
    ({"card_type": "sim"}, 422, "validation_error", "card_type"),
    ({"request_id": "has space"}, 422, "validation_error", "request_id"),
    ({"name": "BUDI\x00SANTOSO"}, 422, "invalid_name", "name"),
    ({"callback_url": "http://203.0.113.5/hook"}, 422, "callback_not_allowed", "callback_url"),
    ({"priorty": "urgent"}, 422, "validation_error", "priorty"),
])
def test_bad_input_is_refused_and_nothing_written(daemon: Daemon, change: dict, status: int, code: str,
                                                  field: str) -> None:
    body = job_payload(9)
    for k, v in change.items():
        if v is None:
            body.pop(k)
        else:
            body[k] = v
    with daemon.client(daemon.enrollment) as c:
        r = c.post("/api/v1/jobs", json=body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and err["field"] == field and len(err["message"]) > 10
    assert _count_jobs(daemon) == 0


def test_huge_body_is_413_before_being_read(daemon: Daemon) -> None:
    big = b'{"x": "' + b"A" * (30 * 1024 * 1024) + b'"}'
    with daemon.client(daemon.enrollment) as c:
        r = c.post("/api/v1/jobs", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
    assert _count_jobs(daemon) == 0


def test_wrong_media_type_and_malformed_json(daemon: Daemon) -> None:
    with daemon.client(daemon.enrollment) as c:
        r = c.post("/api/v1/jobs", content=b"nik=1", headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 415
        r = c.post("/api/v1/jobs", content=b"{not json", headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"


def test_unknown_printer_and_job_are_404_with_shape(daemon: Daemon) -> None:
    with daemon.client() as c:
        r = c.get("/api/v1/printers/card9")
        assert r.status_code == 404 and r.json()["error"]["code"] == "printer_not_found"
        r = c.post("/api/v1/printers/..%2F..%2Fetc/pause")
        assert r.status_code == 404
        r = c.get("/api/v1/jobs/j_nothing")
        assert r.status_code == 404 and r.json()["error"]["field"] == "id"


def test_credentials_and_roles(daemon: Daemon) -> None:
    anon = httpx.get(daemon.url + "/api/v1/jobs")
    assert anon.status_code == 401 and anon.json()["error"]["code"] == "unauthorized"
    bad = httpx.get(daemon.url + "/api/v1/jobs", headers={"Authorization": "Bearer pd_wrong"})
    assert bad.status_code == 401
    with daemon.client(daemon.enrollment) as c:
        assert c.get("/api/v1/printers").status_code == 403
        assert c.post("/api/v1/printers/card1/pause", json={"when": "now"}).status_code == 403
    assert httpx.get(daemon.url + "/healthz").status_code == 200


def test_enrollment_sees_only_its_own_jobs(daemon: Daemon) -> None:
    from printd.access.accounts import Accounts
    from printd.queue.db import Database

    other, _ = Accounts(Database(daemon.state_dir / "printd.sqlite3")).create_token("other", "enrollment")
    with daemon.client(daemon.enrollment) as mine, daemon.client(other) as theirs:
        job = mine.post("/api/v1/jobs", json=job_payload(1)).json()
        assert theirs.get(f"/api/v1/jobs/{job['id']}").status_code == 404
        assert theirs.get("/api/v1/jobs").json()["items"] == []
        assert theirs.post(f"/api/v1/jobs/{job['id']}/cancel").status_code == 404


def test_hold_release_cancel_and_pause_resume(daemon: Daemon) -> None:
    with daemon.client() as admin:
        for name in ("card1", "card2"):
            assert admin.post(f"/api/v1/printers/{name}/pause", json={"when": "now"}).json()["state"] == "paused"
        job = admin.post("/api/v1/jobs", json=job_payload(3)).json()
        assert admin.post(f"/api/v1/jobs/{job['id']}/hold").json()["state"] == "held"
        assert admin.post(f"/api/v1/jobs/{job['id']}/release").json()["state"] == "queued"
        assert admin.post(f"/api/v1/jobs/{job['id']}/cancel").json()["state"] == "canceled"
        r = admin.post(f"/api/v1/jobs/{job['id']}/release")
        assert r.status_code == 409 and r.json()["error"]["code"] == "illegal_state"
        job2 = admin.post("/api/v1/jobs", json=job_payload(4)).json()
        assert admin.post("/api/v1/printers/card2/resume").json()["enabled"] is True
        done = wait_for(lambda: (j := admin.get(f"/api/v1/jobs/{job2['id']}").json())["state"] == "printed" and j,
                        timeout=20, what="printed on the resumed printer")
        assert done["printer"] == "card2"


def test_faults_on_simulated_printer_need_technician(daemon: Daemon) -> None:
    with daemon.client(daemon.enrollment) as c:
        assert c.post("/api/v1/printers/card1/faults", json={"kind": "media-jam"}).status_code == 403
    with daemon.client() as admin:
        r = admin.post("/api/v1/printers/card1/faults", json={"kind": "cover-open", "duration_s": 0.3})
        assert r.status_code == 200
        wait_for(lambda: "cover-open" in admin.get("/api/v1/printers/card1").json()["reasons"], timeout=5,
                 what="cover-open shown")
        wait_for(lambda: admin.get("/api/v1/printers/card1").json()["state"] == "idle", timeout=5,
                 what="cleared by itself")
        bad = admin.post("/api/v1/printers/card1/faults", json={"kind": "explode"})
        assert bad.status_code == 422


def test_openapi_is_served(daemon: Daemon) -> None:
    doc = httpx.get(daemon.url + "/openapi.json").json()
    assert "/api/v1/jobs" in doc["paths"] and "/api/v1/printers/{name}/faults" in doc["paths"]


def test_queued_jobs_carry_position_and_estimate(daemon: Daemon) -> None:
    with daemon.client() as admin:
        admin.post("/api/v1/printers/card1/pause", json={"when": "now"})
        admin.post("/api/v1/printers/card2/pause", json={"when": "now"})
        jobs = [admin.post("/api/v1/jobs", json=job_payload(i)).json() for i in range(3)]
        assert [j["position"] for j in jobs] == [1, 2, 3]
        assert all(j["estimated_done_at"] is None for j in jobs)   # no printer is taking work
        admin.post("/api/v1/printers/card2/resume")
        wait_for(lambda: admin.get(f"/api/v1/jobs/{jobs[2]['id']}").json()["estimated_done_at"], timeout=5,
                 what="an estimate once a printer takes work")
        listed = admin.get("/api/v1/jobs", params={"state": "queued"}).json()["items"]
        assert all(j["estimated_done_at"] and j["estimated_done_at"].endswith("+07:00") for j in listed)


def test_docs_are_served_without_a_cdn(daemon: Daemon) -> None:
    page = httpx.get(daemon.url + "/docs")
    assert page.status_code == 200 and "/docs-assets/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    assert httpx.get(daemon.url + "/docs-assets/swagger-ui-bundle.js").status_code == 200
