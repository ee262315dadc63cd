"""`/api/v1/jobs`: submit, follow, cancel, hold, release, resolve, reprint."""
from __future__ import annotations

import asyncio
import ipaddress
import unicodedata
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from printd.access.accounts import Principal
from printd.api.auth import client_scope, require
from printd.api.schemas import JobIn, ReprintIn, ResolveIn
from printd.cards.checks import decode_card_image
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


async def _decode_images(body: JobIn) -> tuple[bytes, bytes | None]:
    """Check both sides at once on pool threads (Pillow decodes without the GIL): the CPU work stays
    off the event loop, and a two-sided card costs one decode's latency, not two."""
    sides = [("front", body.front)] + ([("back", body.back)] if body.back else [])
    results = await asyncio.gather(*(run_in_threadpool(decode_card_image, img.content_type, img.data, name)
                                     for name, img in sides), return_exceptions=True)
    decoded: list[bytes] = []
    for result in results:   # report the front's problem first, whichever finished first
        if isinstance(result, BaseException):
            raise result
        decoded.append(result)
    return decoded[0], (decoded[1] if len(decoded) > 1 else None)


def _station(request: Request) -> Any:
    return request.app.state.station


@router.post("", status_code=201, summary="Submit a card to print (idempotent by request_id)",
             responses={200: {"description": "the same request was received before: the existing job"},
                        400: {"description": "the body is not valid JSON"}, 409: {"description": "request_id reused"},
                        413: {"description": "body or image too large"}, 415: {"description": "not PNG/JPEG"},
                        422: {"description": "invalid field"}, 503: {"description": "cannot persist now"}})
async def submit(body: JobIn, request: Request, response: Response, principal: Submitter) -> dict[str, Any]:
    station = _station(request)
    nik = validate_nik(body.nik)
    name = _clean_name(body.name)
    front, back = await _decode_images(body)
    callback = _check_callback(body.callback_url, station.settings.server.callback_hosts) if body.callback_url else None
    await station.ensure_capacity()
    # image files are not SQLite: write them on a pool thread so submissions fsync in parallel
    # instead of queueing behind each other (and behind the dispatcher) on the one database thread
    shas = await run_in_threadpool(station.images.put_all, front, *([back] if back is not None else []))
    front_sha, back_sha = shas[0], (shas[1] if back is not None else None)
    new = NewJob(client=principal.name, request_id=body.request_id, nik=nik, name=name, card_type=body.card_type,
                 reason=body.reason, priority=Priority(body.priority), front_sha=front_sha, back_sha=back_sha,
                 callback_url=callback, reprint=body.reprint)
    job, created = await station.submit(new)
    await station.refresh_views()   # so the answer carries the job's position and estimate
    if not created:
        response.status_code = 200
    return station.job_view(job)


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
    jobs = await station.db(station.store.list, state=state.value if state else None, day=date,
                            client=client_scope(principal), limit=limit + 1, after_seq=after,
                            newest_first=order == "newest")
    more = len(jobs) > limit
    jobs = jobs[:limit]
    return {"items": [station.job_view(j) for j in jobs],
            "next_cursor": encode_cursor(jobs[-1].seq) if more and jobs else None}


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
