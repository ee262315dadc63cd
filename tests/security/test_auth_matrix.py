"""Every route x every kind of caller: exactly the allowed ones get through.

The routes come from the served OpenAPI document, so a new route without a line in POLICY fails here.
Credentials: none, a wrong token, a revoked token, each role's token, and a page session with and
without its CSRF token. "Through" means the answer is not 401/403 (it may still be 404/409/422: the
bodies here are deliberately empty).
"""
from __future__ import annotations

import re

import httpx
import pytest

from printd.access.accounts import Accounts
from printd.queue.db import Database
from tests.support import Daemon, config_text, daemon_thread, job_payload

pytestmark = pytest.mark.e2e

# one letter per role keeps the policy table below readable
E, O, T, A = "enrollment", "operator", "technician", "admin"  # noqa: E741
PUBLIC = "public"
#: (method, path) -> roles allowed (admin is always allowed); PUBLIC needs no credential
POLICY: dict[tuple[str, str], set[str]] = {
    ("GET", "/healthz"): {PUBLIC},
    ("GET", "/metrics"): {PUBLIC},
    ("POST", "/api/v1/jobs"): {E, O},
    ("GET", "/api/v1/jobs"): {E, O, T},
    ("GET", "/api/v1/jobs/{job_id}"): {E, O, T},
    ("POST", "/api/v1/jobs/{job_id}/cancel"): {E, O},
    ("POST", "/api/v1/jobs/{job_id}/hold"): {O},
    ("POST", "/api/v1/jobs/{job_id}/release"): {O},
    ("POST", "/api/v1/jobs/{job_id}/resolve"): {O},
    ("POST", "/api/v1/jobs/{job_id}/reprint"): {O},
    ("GET", "/api/v1/printers"): {O, T},
    ("GET", "/api/v1/printers/{name}"): {O, T},
    ("POST", "/api/v1/printers/{name}/pause"): {O, T},
    ("POST", "/api/v1/printers/{name}/resume"): {O, T},
    ("POST", "/api/v1/printers/{name}/accept"): {O, T},
    ("POST", "/api/v1/printers/{name}/reject"): {O, T},
    ("POST", "/api/v1/printers/{name}/faults"): {T},
    ("DELETE", "/api/v1/printers/{name}/faults"): {T},
    ("GET", "/api/v1/printers/{name}/diagnostics"): {T},
    ("POST", "/api/v1/printers/{name}/test-print"): {T},
    ("POST", "/api/v1/printers/{name}/checks"): {O, T},
    ("GET", "/api/v1/printers/{name}/checks"): {O, T},
    ("POST", "/api/v1/printers/{name}/raw"): {T},
    ("GET", "/api/v1/stock"): {O, T},
    ("POST", "/api/v1/stock/receipts"): {O},
    ("POST", "/api/v1/stock/loads"): {O},
    ("POST", "/api/v1/stock/unloads"): {O},
    ("POST", "/api/v1/stock/adjustments"): {O},
    ("GET", "/api/v1/supplies"): {O, T},
    ("POST", "/api/v1/supplies/receipts"): {O},
    ("POST", "/api/v1/supplies/loans"): {O},
    ("POST", "/api/v1/supplies/installs"): {O, T},
    ("POST", "/api/v1/supplies/removals"): {O, T},
    ("GET", "/api/v1/supplies/ledger"): {O, T},
    ("GET", "/api/v1/stock/ledger"): {O, T},
    ("GET", "/api/v1/reports/daily"): {O},
    ("GET", "/api/v1/reports/monthly"): {O},
    ("POST", "/api/v1/stock/destructions"): {O},
    ("GET", "/api/v1/stock/destructions"): {O},
    ("GET", "/api/v1/stock/destructions/{id}/berita-acara"): {O},
    ("POST", "/api/v1/stock/returns"): {O},
    ("GET", "/api/v1/stock/returns"): {O},
    ("GET", "/api/v1/stock/returns/{id}/berita-acara"): {O},
    ("GET", "/api/v1/stock/receipts"): {O},
    ("GET", "/api/v1/stock/receipts/{id}/berita-acara"): {O},
    ("POST", "/api/v1/stock/surrendered"): {O},
    ("GET", "/board"): {PUBLIC},
    # chip identity: the enrollment system reports its own encodings; the counter hands over and taps
    ("POST", "/api/v1/jobs/{job_id}/encoding"): {E},
    ("POST", "/api/v1/jobs/{job_id}/handover"): {O},
    ("GET", "/api/v1/reader"): {O, T},
    ("POST", "/api/v1/reader/read"): {O},
    ("GET", "/api/v1/chips/{uid}"): {O},
    ("POST", "/api/v1/stock/destructions/{doc_id}/cards"): {O},   # the waiting-room board: counts only, no personal data
    ("GET", "/api/v1/events"): {O, T},
    ("GET", "/api/v1/webhooks/deliveries"): {E, O, T},
    ("GET", "/api/v1/webhooks/deliveries/{event_id}"): {E, O, T},
    ("POST", "/api/v1/webhooks/deliveries/{event_id}/retry"): {O},
    ("POST", "/api/v1/webhooks/deliveries/{event_id}/drop"): set(),   # admin only
    # accounts: admin only
    ("GET", "/api/v1/users"): set(),
    ("POST", "/api/v1/users"): set(),
    ("POST", "/api/v1/users/{name}/password"): set(),
    ("POST", "/api/v1/users/{name}/disable"): set(),
    ("POST", "/api/v1/users/{name}/enable"): set(),
    ("GET", "/api/v1/tokens"): set(),
    ("POST", "/api/v1/tokens"): set(),
    ("POST", "/api/v1/tokens/{name}/rotate"): set(),
    ("POST", "/api/v1/tokens/{name}/revoke"): set(),
    # the rationing policy (issue 18): admin only
    ("GET", "/api/v1/policy"): set(),
    ("PUT", "/api/v1/policy"): set(),
    ("DELETE", "/api/v1/policy"): set(),
}
ROLES = (E, O, T, A)


def _operations(d: Daemon) -> list[tuple[str, str]]:
    doc = httpx.get(d.url + "/openapi.json").json()
    return [(m.upper(), p) for p, item in doc["paths"].items() for m in item if m in ("get", "post", "delete", "put",
                                                                                       "patch")]


def _login(d: Daemon, user: str, password: str) -> tuple[httpx.Client, str]:
    c = httpx.Client(base_url=d.url, timeout=30, follow_redirects=False)
    page = c.get("/login").text
    nonce = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert nonce, "login form has its nonce"
    r = c.post("/login", data={"username": user, "password": password, "csrf_token": nonce.group(1)})
    assert r.status_code in (302, 303), r.text[:200]
    app = c.get("/").text
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', app) or re.search(r'csrf[^"]*"\s*content="([^"]+)"', app)
    assert csrf, "the page carries its CSRF token"
    return c, csrf.group(1)


def _url(path: str, job_id: str) -> str:
    return (path.replace("{job_id}", job_id).replace("{name}", "card1").replace("{event_id}", "ev_none")
            .replace("{id}", "1").replace("{doc_id}", "1").replace("{uid}", "04A1B2C3D4E5F6"))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    state = tmp_path_factory.mktemp("authz") / "state"
    with daemon_thread(config_text(time_scale=200), state) as d:
        accounts = Accounts(Database(state / "printd.sqlite3"))
        tokens = {A: d.admin, E: d.enrollment}
        tokens[O], _ = accounts.create_token("op", O)
        tokens[T], _ = accounts.create_token("tech", T)
        revoked, _ = accounts.create_token("gone", O)
        accounts.revoke_token("gone")
        accounts.add_user("ani", O, "sandi-operator")
        with d.client(d.admin) as c:
            job_id = c.post("/api/v1/jobs", json=job_payload(1)).json()["id"]
        yield d, tokens, revoked, job_id


def _call(c: httpx.Client, method: str, url: str, headers: dict[str, str] | None = None) -> int:
    if url.endswith("/events"):
        with c.stream(method, url, headers=headers) as r:
            return r.status_code
    body = None if method in ("GET", "DELETE") else {}
    return c.request(method, url, json=body, headers=headers).status_code


def test_every_route_has_a_policy(world) -> None:  # type: ignore[no-untyped-def]
    d, *_ = world
    missing = [op for op in _operations(d) if op not in POLICY and op[1] != "/openapi.json"]
    assert missing == [], f"routes without an authorization policy: {missing}"


def test_matrix(world) -> None:  # type: ignore[no-untyped-def]
    d, tokens, revoked, job_id = world
    failures = []
    ops = [op for op in _operations(d) if op in POLICY]
    with httpx.Client(base_url=d.url, timeout=30) as c:
        for method, path in ops:
            allowed = POLICY[(method, path)]
            url = _url(path, job_id)
            cases: list[tuple[str, dict[str, str], bool]] = [
                ("none", {}, PUBLIC in allowed),
                ("wrong", {"Authorization": "Bearer pd_not-a-real-token"}, PUBLIC in allowed),
                ("revoked", {"Authorization": f"Bearer {revoked}"}, PUBLIC in allowed),
            ]
            cases += [(role, {"Authorization": f"Bearer {tokens[role]}"}, PUBLIC in allowed or role in allowed
                       or role == A) for role in ROLES]
            for who, headers, ok in cases:
                status = _call(c, method, url, headers)
                got = status not in (401, 403)
                if got != ok:
                    failures.append(f"{method} {path} as {who}: {status} (expected {'pass' if ok else 'deny'})")
                elif not ok and who in ("none", "wrong", "revoked") and status != 401:
                    failures.append(f"{method} {path} as {who}: {status}, expected 401")
                elif not ok and who in ROLES and status != 403:
                    failures.append(f"{method} {path} as {who}: {status}, expected 403")
    assert failures == [], "\n".join(failures)


def test_page_session_needs_csrf_for_changes(world) -> None:  # type: ignore[no-untyped-def]
    d, _, _, job_id = world
    c, csrf = _login(d, "ani", "sandi-operator")
    try:
        for method, path in [op for op in _operations(d) if op in POLICY]:
            allowed = POLICY[(method, path)]
            if PUBLIC in allowed:
                continue
            url = _url(path, job_id)
            if method == "GET":
                status = _call(c, method, url)
                assert (status not in (401, 403)) == (O in allowed), (method, path, status)
                continue
            without = _call(c, method, url)
            assert without == 403, (method, path, without)   # no CSRF token: refused whatever the role
            with_token = _call(c, method, url, {"X-CSRF-Token": csrf})
            assert (with_token not in (401, 403)) == (O in allowed), (method, path, with_token)
            wrong = _call(c, method, url, {"X-CSRF-Token": "x" + csrf})
            assert wrong == 403, (method, path, wrong)
    finally:
        c.close()


def test_secrets_are_not_stored_in_clear(world) -> None:  # type: ignore[no-untyped-def]
    d, tokens, revoked, _ = world
    raw = b"".join(p.read_bytes() for p in d.state_dir.glob("printd.sqlite3*"))
    for token in (*tokens.values(), revoked):
        assert token.encode() not in raw
    assert b"sandi-operator" not in raw
