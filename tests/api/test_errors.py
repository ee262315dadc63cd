"""The error shape over real HTTP: every error is `{"error": {code, message, field}}` with honest headers."""
from __future__ import annotations

import pytest

from tests.support import Daemon

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("method, path, allowed", [
    ("PUT", "/api/v1/jobs", "GET, POST"),                            # GET and POST are two routes
    ("OPTIONS", "/api/v1/printers/card1/faults", "DELETE, POST"),
    ("DELETE", "/api/v1/jobs/j_x/cancel", "POST"),
])
def test_405_lists_every_method_the_path_serves(daemon: Daemon, method: str, path: str, allowed: str) -> None:
    with daemon.client() as c:
        r = c.request(method, path)
    assert r.status_code == 405
    assert r.headers["allow"] == allowed
    err = r.json()["error"]
    assert err["code"] == "method_not_allowed" and method in err["message"]


def test_unknown_path_is_404_in_the_error_shape(daemon: Daemon) -> None:
    with daemon.client() as c:
        r = c.get("/api/v1/nothing-here")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
