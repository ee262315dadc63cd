"""A small typed client for the printd API (httpx), used by the CLI and by integrators."""
from __future__ import annotations

import time
from typing import Any

import httpx


class ApiError(Exception):
    """The daemon answered with an error body."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.field = field


FINAL_STATES = frozenset({"printed", "failed", "canceled"})


class PrintdClient:
    """Blocking client. `PrintdClient("http://127.0.0.1:8740", token)`."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self._http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport,
                                  headers={"Authorization": f"Bearer {token}"})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PrintdClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _req(self, method: str, url: str, **kw: Any) -> Any:
        r = self._http.request(method, url, **kw)
        if r.status_code >= 400:
            try:
                err = r.json()["error"]
                raise ApiError(r.status_code, err.get("code", "error"), err.get("message", ""), err.get("field"))
            except (ValueError, KeyError, TypeError):
                raise ApiError(r.status_code, "http_error", r.text[:200]) from None
        return r.json() if r.content else None

    def health(self) -> dict[str, Any]:
        return self._req("GET", "/healthz")  # type: ignore[no-any-return]

    def submit(self, job: dict[str, Any], *, retries: int = 3, backoff_s: float = 0.5) -> dict[str, Any]:
        """Submit a job; network failures are retried with the same request_id (safe by idempotency)."""
        for attempt in range(retries + 1):
            try:
                return self._req("POST", "/api/v1/jobs", json=job)  # type: ignore[no-any-return]
            except (httpx.TransportError, ApiError) as exc:
                retryable = isinstance(exc, httpx.TransportError) or (isinstance(exc, ApiError) and exc.status == 503)
                if not retryable or attempt == retries:
                    raise
                time.sleep(backoff_s * (2 ** attempt))
        raise AssertionError("unreachable")

    def get(self, job_id: str) -> dict[str, Any]:
        return self._req("GET", f"/api/v1/jobs/{job_id}")  # type: ignore[no-any-return]

    def list_jobs(self, *, state: str | None = None, date: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """All jobs matching, following cursors."""
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": min(limit - len(items), 500)}
            if state:
                params["state"] = state
            if date:
                params["date"] = date
            if cursor:
                params["cursor"] = cursor
            page = self._req("GET", "/api/v1/jobs", params=params)
            items.extend(page["items"])
            cursor = page["next_cursor"]
            if not cursor or len(items) >= limit:
                return items

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self._req("POST", f"/api/v1/jobs/{job_id}/cancel")  # type: ignore[no-any-return]

    def wait(self, job_id: str, *, timeout_s: float = 600.0, poll_s: float = 1.0) -> dict[str, Any]:
        """Poll until the job is final (printed, failed, canceled) or in_doubt."""
        deadline = time.monotonic() + timeout_s
        while True:
            job = self.get(job_id)
            if job["state"] in FINAL_STATES or job["state"] == "in_doubt":
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job['state']} after {timeout_s} s")
            time.sleep(poll_s)

    def printers(self) -> list[dict[str, Any]]:
        return self._req("GET", "/api/v1/printers")  # type: ignore[no-any-return]

    def diagnostics(self, name: str) -> dict[str, Any]:
        """A printer's diagnostics document (technician)."""
        return self._req("GET", f"/api/v1/printers/{name}/diagnostics")  # type: ignore[no-any-return]

    def test_print(self, name: str) -> dict[str, Any]:
        """Print the generated test card on a printer (technician); booked as `test`."""
        return self._req("POST", f"/api/v1/printers/{name}/test-print")  # type: ignore[no-any-return]

    def raw(self, name: str, command: str) -> dict[str, Any]:
        """Send one raw vendor command (technician; Evolis only); returns the reply."""
        body = {"command": command}
        return self._req("POST", f"/api/v1/printers/{name}/raw", json=body)  # type: ignore[no-any-return]
