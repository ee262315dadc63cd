from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
from hypothesis import given
from hypothesis import strategies as st

from printd.client import verify_signature as client_verify
from printd.notify.signature import compute, parse, sign, verify_signature
from tests.support import ROOT, free_port, wait_for

SECRET = "whsec_test-secret"
BODY = b'{"event_id":"evt_1","type":"job.state_changed","job":{"id":"j_1","state":"printed"}}'
T = 1_790_000_000


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY, T) == f"t={T},v1={expected}"
    assert compute(SECRET, T, BODY) == expected


def test_a_signed_body_verifies_within_the_window() -> None:
    header = sign(SECRET, BODY, T)
    assert verify_signature(SECRET, header, BODY, now=T)
    assert verify_signature(SECRET, header, BODY, now=T + 299)
    assert verify_signature(SECRET, header, BODY, now=T - 299)  # receiver's clock behind ours
    assert client_verify is verify_signature


def test_replay_outside_the_window_is_refused() -> None:
    header = sign(SECRET, BODY, T)
    assert not verify_signature(SECRET, header, BODY, now=T + 301)
    assert verify_signature(SECRET, header, BODY, tolerance_s=3600, now=T + 301)


def test_tampered_body_wrong_secret_or_forged_time_is_refused() -> None:
    header = sign(SECRET, BODY, T)
    assert not verify_signature(SECRET, header, BODY.replace(b"printed", b"failed!"), now=T)
    assert not verify_signature("whsec_other", header, BODY, now=T)
    # moving t forward (to pass the window) breaks the MAC, which covers t
    sig = header.split("v1=")[1]
    assert not verify_signature(SECRET, f"t={T + 1000},v1={sig}", BODY, now=T + 1000)


def test_malformed_headers_are_refused_not_raised() -> None:
    for header in (None, "", "garbage", "t=abc,v1=00", f"t={T}", "v1=00", f"t={T},t={T},v1=00",
                   f"t={T},v1=ä", f"t=-{T},v1=00", f"t={T} v1=00"):
        assert not verify_signature(SECRET, header, BODY, now=T)
    assert not verify_signature("", sign("", BODY, T), BODY, now=T)  # an empty secret never verifies


def test_any_of_several_signatures_and_unknown_schemes() -> None:
    good = compute(SECRET, T, BODY)
    assert verify_signature(SECRET, f"t={T},v1={'0' * 64},v1={good}", BODY, now=T)
    assert verify_signature(SECRET, f"t={T},v2=whatever,v1={good.upper()}", BODY, now=T)
    assert parse(f"t={T},v2=x,v1=a,v1=b") == (T, ["a", "b"])


@given(st.binary(max_size=2000), st.text(min_size=1, max_size=60), st.integers(0, 2 ** 40))
def test_sign_then_verify_round_trips(body: bytes, secret: str, t: int) -> None:
    header = sign(secret, body, t)
    assert verify_signature(secret, header, body, now=t)
    assert not verify_signature(secret, header, body + b" ", now=t)


def test_the_documented_example_receiver_accepts_printd_signatures_only(tmp_path: Path) -> None:
    """docs/examples/webhook_receiver.py, run as an integrator would, against signed and forged POSTs."""
    port = free_port()
    env = {"PRINTD_WEBHOOK_SECRET": SECRET, "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "docs" / "examples" / "webhook_receiver.py"), str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}/printd/events"
        wait_for(lambda: _reachable(url), timeout=10, what="example receiver listening")
        body = json.dumps({"event_id": "evt_X", "type": "job.state_changed", "occurred_at": "2026-11-29T10:00:00+07:00",
                           "job": {"id": "j_1", "request_id": "SIAK-1", "state": "printed",
                                   "state_reason": None}}).encode()
        good = {"X-Printd-Signature": sign(SECRET, body), "Content-Type": "application/json"}
        assert httpx.post(url, content=body, headers=good).status_code == 204
        assert httpx.post(url, content=body, headers=good).status_code == 204  # a redelivery: accepted, not redone
        forged = {"X-Printd-Signature": sign("whsec_wrong", body)}
        assert httpx.post(url, content=body, headers=forged).status_code == 401
        stale = {"X-Printd-Signature": sign(SECRET, body, int(time.time()) - 3600)}
        assert httpx.post(url, content=body, headers=stale).status_code == 401
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert out.count("SIAK-1 j_1 -> printed") == 1


def _reachable(url: str) -> bool:
    try:
        httpx.post(url, content=b"{}", timeout=1)
        return True
    except httpx.TransportError:
        return False
