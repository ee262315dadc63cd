"""A small typed client for the printd API (httpx), used by the CLI and by integrators.

```python
from printd.client import PrintdClient

with PrintdClient("http://127.0.0.1:8740", token) as printd:
    job = printd.submit({"request_id": "SIAK-20261129-000123",   # your own key, kept with your record
                         "nik": "3274011203900001", "name": "BUDI SANTOSO",
                         "front": {"content_type": "image/png", "data": front_b64},
                         "callback_url": "http://127.0.0.1:9000/printd"})
    done = printd.wait(job["id"])          # printed, failed, canceled (or in_doubt: a person decides)
```

Submitting is safe to repeat: the caller gives each submission its own `request_id` (required: keep it
with your record, so a re-send after your own restart still names the same job) and the client re-sends
it unchanged after a lost answer, a timeout, 429 or 503, so the daemon returns the job it already has
instead of printing a second card. Errors the caller must act on raise
`ApiError` with the contract's `code`, `message` and `field`. Webhook receivers check requests
with `verify_signature` (re-exported here from `printd.notify.signature`).
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any, Literal, NotRequired, Self, TypedDict

import httpx

from printd.notify.signature import verify_signature

__all__ = [
    "FINAL_STATES",
    "ApiError",
    "Attempt",
    "Image",
    "Job",
    "JobPage",
    "NewJobRequest",
    "Notifications",
    "PrintdClient",
    "verify_signature",
]

JobState = Literal["queued", "held", "printing", "in_doubt", "printed", "failed", "canceled"]
FINAL_STATES: frozenset[str] = frozenset({"printed", "failed", "canceled"})
#: `wait` returns on these by default: final, or needing a person (an in_doubt card is never reprinted blindly)
SETTLED_STATES: frozenset[str] = FINAL_STATES | {"in_doubt"}
#: answers after which the same request may simply be sent again
RETRY_STATUSES = frozenset({408, 429, 502, 503, 504})


class Image(TypedDict):
    content_type: Literal["image/png", "image/jpeg"]
    data: str


class NewJobRequest(TypedDict):
    """The body of `POST /api/v1/jobs`; `request_id` is the caller's own idempotency key."""

    request_id: str
    nik: str
    name: str
    front: Image
    card_type: NotRequired[Literal["ktp-el", "kia"]]
    reason: NotRequired[Literal["new", "lost", "damaged", "data_change", "other"]]
    priority: NotRequired[Literal["normal", "urgent"]]
    back: NotRequired[Image]
    callback_url: NotRequired[str]


class Attempt(TypedDict):
    n: int
    printer: str
    outcome: str
    reason: str | None
    started_at: str
    ended_at: str | None


class Notifications(TypedDict):
    """How the job's webhook notifications stand (only for a job with a callback_url)."""

    pending: int
    delivered: int
    failed: int


class Job(TypedDict):
    """The API's job object."""

    id: str
    request_id: str
    client: str
    nik_masked: str
    name: str | None
    card_type: str
    reason: str
    priority: str
    state: JobState
    state_reason: str | None
    printer: str | None
    position: int | None
    estimated_done_at: str | None
    attempts: list[Attempt]
    created_at: str
    updated_at: str
    printed_at: str | None
    dual: NotRequired[bool]
    notifications: NotRequired[Notifications | None]


class JobPage(TypedDict):
    items: list[Job]
    next_cursor: str | None


class ApiError(Exception):
    """The daemon answered with an error body `{"error": {"code", "message", "field"}}`."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.retry_after = retry_after


def new_request_id() -> str:
    """A fresh idempotency key (fits the contract: 1-64 of `[A-Za-z0-9._:-]`)."""
    return "pd-" + uuid.uuid4().hex


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after", "")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _error(resp: httpx.Response) -> ApiError:
    try:
        err = resp.json()["error"]
        return ApiError(resp.status_code, str(err.get("code", "error")), str(err.get("message", "")),
                        err.get("field"), _retry_after(resp))
    except (ValueError, KeyError, TypeError):
        return ApiError(resp.status_code, "http_error", resp.text[:200], None, _retry_after(resp))


class PrintdClient:
    """Blocking client: `PrintdClient("http://127.0.0.1:8740", token)`.

    `retries` and `backoff_s` govern re-sending after a transport failure or a 408/429/502/503/504
    answer (waits double from `backoff_s` up to `max_backoff_s`; a `Retry-After` is honoured).
    """

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0, retries: int = 4,
                 backoff_s: float = 0.5, max_backoff_s: float = 30.0,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport,
                                  headers={"Authorization": f"Bearer {token}"})
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._sleep = sleep

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing

    def request(self, method: str, url: str, *, retry: bool = False, **kw: Any) -> Any:
        """One API call; the decoded JSON answer. With `retry`, transient failures are sent again as is."""
        attempt = 0
        while True:
            try:
                resp = self._http.request(method, url, **kw)
            except httpx.TransportError:
                if not retry or attempt >= self.retries:
                    raise
                self._sleep(self._backoff(attempt, None))
                attempt += 1
                continue
            if resp.status_code < 400:
                return resp.json() if resp.content else None
            err = _error(resp)
            if not retry or resp.status_code not in RETRY_STATUSES or attempt >= self.retries:
                raise err
            self._sleep(self._backoff(attempt, err.retry_after))
            attempt += 1

    _req = request  # the name CLI modules used first

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_backoff_s)
        return float(min(self.max_backoff_s, self.backoff_s * 2 ** attempt))

    # ------------------------------------------------------------------ jobs

    def submit(self, job: NewJobRequest | Mapping[str, Any]) -> Job:
        """Submit a card; `201` new or `200` the same request seen before: the job either way.

        The caller's `request_id` is required: an id made up here would be lost with the caller's process,
        and the re-send after its restart would print a second card. It is re-sent unchanged on every
        retry. The same `request_id` with different content raises ApiError 409 `request_id_conflict`.
        """
        body = dict(job)
        if not body.get("request_id"):
            raise ValueError("submit() needs the caller's own request_id (1-64 of [A-Za-z0-9._:-]), kept with "
                             "the caller's record so a re-send is always safe; new_request_id() makes one")
        return self.request("POST", "/api/v1/jobs", json=body, retry=True)

    def get(self, job_id: str) -> Job:
        return self.request("GET", f"/api/v1/jobs/{job_id}", retry=True)

    def list_page(self, *, state: str | None = None, date: str | None = None, limit: int = 100,
                  cursor: str | None = None, newest_first: bool = False) -> JobPage:
        """One page of `GET /api/v1/jobs` (oldest first, or newest); pass `next_cursor` on for the next."""
        params: dict[str, Any] = {"limit": limit}
        if newest_first:
            params["order"] = "newest"
        if state:
            params["state"] = state
        if date:
            params["date"] = date
        if cursor:
            params["cursor"] = cursor
        return self.request("GET", "/api/v1/jobs", params=params, retry=True)

    def iter_jobs(self, *, state: str | None = None, date: str | None = None, page_size: int = 100,
                  newest_first: bool = False) -> Iterator[Job]:
        """Every job matching (an enrollment client sees its own), following cursors."""
        cursor: str | None = None
        while True:
            page = self.list_page(state=state, date=date, limit=page_size, cursor=cursor, newest_first=newest_first)
            yield from page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return

    def list_jobs(self, *, state: str | None = None, date: str | None = None, limit: int | None = 100,
                  page_size: int = 100, newest_first: bool = False) -> list[Job]:
        """Jobs matching, following cursors, at most `limit` of them (None: all)."""
        out: list[Job] = []
        size = page_size if limit is None else max(1, min(page_size, limit))
        for job in self.iter_jobs(state=state, date=date, page_size=min(size, 500), newest_first=newest_first):
            out.append(job)
            if limit is not None and len(out) >= limit:
                break
        return out

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued job (an enrollment client: its own). A job that is printing cannot be."""
        try:
            return self.request("POST", f"/api/v1/jobs/{job_id}/cancel")
        except httpx.TransportError:
            # the answer was lost: whether the cancel happened is read back, not guessed
            job = self.get(job_id)
            if job["state"] == "canceled":
                return job
            return self.request("POST", f"/api/v1/jobs/{job_id}/cancel", retry=True)

    def wait(self, job_id: str, *, timeout_s: float = 600.0, poll_s: float = 1.0,
             until: Collection[str] = SETTLED_STATES) -> Job:
        """Poll until the job's state is in `until` (default: final or in_doubt); TimeoutError after `timeout_s`.

        A receiver of webhooks does not need this: every state change is POSTed to its callback_url.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            job = self.get(job_id)
            if job["state"] in until:
                return job
            if time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} still {job['state']} after {timeout_s:g} s")
            self._sleep(min(poll_s, max(0.0, deadline - time.monotonic())))

    # ------------------------------------------------------------------ the rest

    def deliveries(self, *, state: str | None = None, job_id: str | None = None,
                   limit: int | None = 100, page_size: int = 100) -> list[dict[str, Any]]:
        """Webhook notifications, newest first (`state`: pending, delivered or failed), following pages
        until `limit` (None: all)."""
        out: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": max(1, min(500, page_size if limit is None else min(page_size, limit)))}
        if state:
            params["state"] = state
        if job_id:
            params["job_id"] = job_id
        while True:
            page = self.request("GET", "/api/v1/webhooks/deliveries", params=params, retry=True)
            out.extend(page["items"])
            if limit is not None and len(out) >= limit:
                return out[:limit]
            if not page.get("next_cursor"):
                return out
            params["cursor"] = page["next_cursor"]

    def health(self) -> dict[str, Any]:
        return self.request("GET", "/healthz", retry=True)

    def printers(self) -> list[dict[str, Any]]:
        return self.request("GET", "/api/v1/printers", retry=True)

    def diagnostics(self, name: str) -> dict[str, Any]:
        """A printer's diagnostics document (technician)."""
        return self.request("GET", f"/api/v1/printers/{name}/diagnostics", retry=True)

    def test_print(self, name: str) -> dict[str, Any]:
        """Print the generated test card on a printer (technician); booked as `test`."""
        return self.request("POST", f"/api/v1/printers/{name}/test-print")

    def raw(self, name: str, command: str) -> dict[str, Any]:
        """Send one raw vendor command (technician; Evolis only); returns the reply."""
        body = {"command": command}
        return self.request("POST", f"/api/v1/printers/{name}/raw", json=body)
