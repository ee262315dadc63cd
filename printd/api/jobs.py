"""`/api/v1/jobs`: submit, follow, cancel, hold, release, resolve, reprint."""
from __future__ import annotations

import ipaddress
import unicodedata
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import httpx
import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from printd.access.accounts import Principal
from printd.api.auth import client_scope, require
from printd.api.schemas import JobIn, ReprintIn, ResolveIn
from printd.cards.checks import check_card_image
from printd.errors import Invalid
from printd.nik import validate_nik
from printd.queue.models import JobState, Priority, Resolution, Role
from printd.queue.store import NewJob, decode_cursor, encode_cursor

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])

Submitter = Annotated[Principal, Depends(require(Role.ENROLLMENT, Role.OPERATOR))]
Reader = Annotated[Principal, Depends(require(Role.ENROLLMENT, Role.OPERATOR, Role.TECHNICIAN))]
Canceler = Annotated[Principal, Depends(require(Role.ENROLLMENT, Role.OPERATOR))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]


def _clean_name(name: str) -> str:
    name = unicodedata.normalize("NFC", name).strip()
    if not name or any(unicodedata.category(ch).startswith("C") for ch in name):
        raise Invalid("name must be printable text without control characters", code="invalid_name", field="name")
    return name


def _check_callback(url: str, allowed_hosts: tuple[str, ...]) -> str:
    # A URL the HTTP client cannot send to (a control character, a space, non-ASCII text, a port it
    # cannot dial) was once accepted here and then failed at send time on every retry: refuse it now.
    bad = next((ch for ch in url if not 0x21 <= ord(ch) <= 0x7E), None)
    if bad is not None:
        raise Invalid(f"callback_url contains the character U+{ord(bad):04X}; use a plain ASCII URL without "
                      "spaces or control characters (percent-encode anything else)", code="invalid_callback_url",
                      field="callback_url")
    try:
        parts = urlsplit(url)
        port = parts.port
        httpx.URL(url)   # the client that will send it must be able to parse it
    except (ValueError, httpx.InvalidURL) as exc:
        raise Invalid(f"callback_url is not a usable URL: {exc}", code="invalid_callback_url",
                      field="callback_url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("callback_url must be an http(s) URL", code="invalid_callback_url", field="callback_url")
    if port == 0:
        raise Invalid("callback_url port must be 1-65535", code="invalid_callback_url", field="callback_url")
    host = parts.hostname.lower()
    loopback = host == "localhost"
    try:
        loopback = loopback or ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    if not loopback and host not in allowed_hosts:
        raise Invalid(f"callback_url host {host!r} is not allowed; use a loopback address or ask the admin to "
                      "list the host in [server] callback_hosts", code="callback_not_allowed", field="callback_url")
    return url


def _parse_job(raw: bytes) -> JobIn:
    """The body as a JobIn: orjson parses it (0.28 ms against the stdlib's 0.56 ms for two 300 KB
    images, docs/benchmarks.md), pydantic validates the parsed object. Errors take the
    same shape as FastAPI's own (400 invalid_json, 422 validation_error with the field)."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise RequestValidationError([{"type": "json_invalid", "loc": ("body",), "msg": "JSON decode error"}]) \
            from None
    try:
        return JobIn.model_validate(doc)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None


def _accept(station: Any, raw: bytes, client: str) -> NewJob:
    """On a pool thread, the whole of a submission's own work: parse and validate the body, check each
    image's structure, then write both images durably. The job to make durable, or the error.

    One trip to the pool and none of it on the event loop, which is left to the HTTP traffic of the
    other submissions: the parse (~0.5 ms of an 800 KB body under load) and the checks hold the GIL, but
    pybase64, zlib's CRC, sha256 and the fsyncs release it (docs/benchmarks.md, "Third pass"). Bad input
    is refused before anything is written.
    """
    body = _parse_job(raw)
    nik = validate_nik(body.nik)
    name = _clean_name(body.name)
    callback = _check_callback(body.callback_url, station.settings.server.callback_hosts) if body.callback_url else None
    front = check_card_image(body.front.content_type, body.front.data, "front")
    back = check_card_image(body.back.content_type, body.back.data, "back") if body.back else None
    shas = station.images.put_all(front, *([back] if back is not None else []))
    return NewJob(client=client, request_id=body.request_id, nik=nik, name=name, card_type=body.card_type,
                  reason=body.reason, priority=Priority(body.priority), front_sha=shas[0],
                  back_sha=shas[1] if back is not None else None, callback_url=callback, reprint=body.reprint)


#: the request body in /openapi.json: the route reads it itself (orjson), so FastAPI would not show it
_JOB_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/JobIn"}}}}}


def _station(request: Request) -> Any:
    return request.app.state.station


@router.post("", status_code=201, summary="Submit a card to print (idempotent by request_id)",
             openapi_extra=_JOB_BODY,
             description="Answers 201 once the job is durable. Each image's structure is checked first (422 "
                         "invalid_image for a malformed file, a type mismatch, or a decompression or scan bomb); "
                         "the pixels are decoded and the printer-ready card prepared right after the 201, off the "
                         "request path. An image that then does not decode fails the job (state failed, "
                         "state_reason invalid_image) before any blank is used, with its webhook.",
             responses={200: {"description": "the same request was received before: the existing job"},
                        400: {"description": "the body is not valid JSON"}, 409: {"description": "request_id reused"},
                        413: {"description": "body or image too large"}, 415: {"description": "not PNG/JPEG"},
                        422: {"description": "invalid field"}, 503: {"description": "cannot persist now"}})
async def submit(request: Request, principal: Submitter) -> Response:
    station = _station(request)
    new = await run_in_threadpool(_accept, station, await request.body(), principal.name)
    job, created = await station.submit(new, check_headroom=True)
    # the job object is plain JSON values: orjson writes it directly (no jsonable_encoder walk)
    return Response(orjson.dumps(station.job_view(job)), status_code=201 if created else 200,
                    media_type="application/json")


@router.get("", summary="List jobs (an enrollment client sees only its own)")
async def list_jobs(request: Request, principal: Reader,
                    state: Annotated[JobState | None, Query()] = None,
                    date: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$",
                                                      description="station day YYYY-MM-DD")] = None,
                    limit: Annotated[int, Query(ge=1, le=500)] = 100,
                    cursor: Annotated[str | None, Query(max_length=100)] = None,
                    order: Annotated[Literal["oldest", "newest"],
                                     Query(description="oldest first (default) or newest first; pass the "
                                                       "same order with the next page's cursor")] = "oldest",
                    ) -> dict[str, Any]:
    station = _station(request)
    await station.fresh_views()
    after = decode_cursor(cursor) if cursor else None
    filters = {"state": state.value if state else None, "day": date, "client": client_scope(principal)}

    def read() -> tuple[list[Any], int | None]:
        jobs = station.store.list(**filters, limit=limit + 1, after_seq=after, newest_first=order == "newest")
        for load in station.job_loaders:   # what the views need (chips), read here for the page at once
            load(station.store, jobs)
        # `total` on the first page only: a page of a 20,000-job queue shows "500 of 20,000"
        return jobs, station.store.count(**filters) if after is None else None

    jobs, total = await station.db(read)
    more = len(jobs) > limit
    jobs = jobs[:limit]
    out: dict[str, Any] = {"items": [station.job_view(j) for j in jobs],
                           "next_cursor": encode_cursor(jobs[-1].seq) if more and jobs else None}
    if total is not None:
        out["total"] = total
    return out


@router.get("/{job_id}", summary="One job")
async def get_job(job_id: str, request: Request, principal: Reader) -> dict[str, Any]:
    station = _station(request)
    job = await station.get_job(job_id, client_scope(principal))
    await station.fresh_views()
    return station.job_view(job)


@router.post("/{job_id}/cancel", summary="Cancel (enrollment: its own queued job)")
async def cancel(job_id: str, request: Request, principal: Canceler) -> dict[str, Any]:
    station = _station(request)
    job = await station.cancel(job_id, principal.actor, client=client_scope(principal))
    return station.job_view(job)


@router.post("/{job_id}/hold", summary="Hold a queued job")
async def hold(job_id: str, request: Request, principal: Operator) -> dict[str, Any]:
    station = _station(request)
    return station.job_view(await station.hold(job_id, principal.actor))


@router.post("/{job_id}/release", summary="Release a held job")
async def release(job_id: str, request: Request, principal: Operator) -> dict[str, Any]:
    station = _station(request)
    return station.job_view(await station.release(job_id, principal.actor))


@router.post("/{job_id}/resolve", summary="Settle an in_doubt job: printed, spoiled or not_fed")
async def resolve(job_id: str, body: ResolveIn, request: Request, principal: Operator) -> dict[str, Any]:
    station = _station(request)
    job = await station.resolve(job_id, Resolution(body.outcome), principal.actor, body.note, body.category,
                                force=body.force)
    return station.job_view(job)


@router.post("/{job_id}/reprint", summary="A printed card was found bad: book it spoiled and print again")
async def reprint(job_id: str, body: ReprintIn, request: Request, principal: Operator) -> dict[str, Any]:
    station = _station(request)
    return station.job_view(await station.reprint(job_id, body.reason, principal.actor, body.category))
