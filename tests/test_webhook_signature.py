from __future__ import annotations

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from printd.client import verify_signature as client_verify
from printd.webhook_signature import compute, parse, sign, verify_signature

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
