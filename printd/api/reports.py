"""`/api/v1/reports/daily` and `/monthly`: the blangko reports as JSON, CSV or a printable A4 page.

The format follows the Accept header (`application/json`, `text/csv`, `text/html`, with q-values);
`?format=json|csv|html` overrides it, so a plain link on the page can download the CSV.
"""
from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from printd.access.accounts import Principal
from printd.api.auth import require
from printd.blangko.monthly import build_monthly, parse_month
from printd.blangko.report_formats import as_json, monthly_csv, monthly_html, to_csv, to_html
from printd.blangko.reports import DailyReport, build_daily
from printd.chips.registry import ChipRegistry, chip_view
from printd.errors import Invalid, RequestError
from printd.queue.models import Role

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]

MEDIA = {"application/json": "json", "text/csv": "csv", "text/html": "html"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class NotAcceptable(RequestError):
    """406: none of the formats the caller accepts."""

    status = 406
    code = "not_acceptable"


def negotiate(accept: str | None) -> str:
    """The best of json/csv/html for an Accept header (json when absent or `*/*`)."""
    if not accept or not accept.strip():
        return "json"
    best: tuple[float, int, str] | None = None
    for i, part in enumerate(accept.split(",")):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        q = 1.0
        for f in fields[1:]:
            if f.lower().startswith("q="):
                try:
                    q = float(f[2:])
                except ValueError:
                    q = 0.0
        if q <= 0:
            continue
        if media in MEDIA:
            fmt = MEDIA[media]
        elif media in ("*/*", "application/*"):
            fmt = "json"
        elif media == "text/*":
            fmt = "html"
        else:
            continue
        # higher q wins; among equals the first listed (a browser lists text/html first)
        key = (-q, i, fmt)
        if best is None or key < best:
            best = key
    if best is None:
        raise NotAcceptable("this report comes as application/json, text/csv or text/html", field="Accept")
    return best[2]


def parse_day(value: str | None, today: str) -> str:
    """A station day YYYY-MM-DD, not after today; default today."""
    if value is None or value == "":
        return today
    try:
        if not _DATE.match(value):
            raise ValueError
        day = date.fromisoformat(value).isoformat()
    except ValueError:
        raise Invalid("date must be a day as YYYY-MM-DD, e.g. 2026-11-29", code="invalid_date",
                      field="date") from None
    if day > today:
        raise Invalid(f"{day} has not come yet at the station (today is {today})", code="future_date", field="date")
    return day


async def daily_report(station: Any, day: str) -> dict[str, Any]:
    """The JSON document of a day's report (with the in-doubt jobs as job objects)."""
    today = station.clock.day()
    _, end = station.clock.day_bounds(day)
    cfg = station.settings.station

    def build() -> tuple[DailyReport, list[Any]]:
        assert station.database is not None
        with station.database._lock:
            report = build_daily(station.database.conn, day, printers=list(station.settings.printers),
                                 station=cfg.name, office=cfg.office, final=day < today, day_end=end)
        return report, [station.store.get(job_id) for job_id in report.in_doubt]

    report, jobs = await station.db(build)
    doc = as_json(report, [station.job_view(j) for j in jobs], station.clock.iso,
                  station.clock.iso(station.clock.now()))
    doc["chips"] = await chips_detail(station, *station.clock.day_bounds(day))
    # each printer's start-of-day check (transfer temperature, cleaning, settings): printd/fitness/checks.py
    doc["printer_checks"] = [station.checks.view(c) for c in await station.db(station.checks.on_day, day)]
    return doc


async def chips_detail(station: Any, t0: float, t1: float) -> list[dict[str, Any]]:
    """Each blank's chip whose fate was recorded in [t0, t1): encoded, failed, handed over or destroyed."""
    chips = await station.db(ChipRegistry(station.store).between, t0, t1)
    return [chip_view(c, station.clock.iso) for c in chips]


@router.get("/daily", summary="The daily blangko report (JSON, CSV or printable HTML by Accept)",
            responses={200: {"content": {"application/json": {}, "text/csv": {}, "text/html": {}}},
                       406: {"description": "none of JSON, CSV, HTML is acceptable"},
                       422: {"description": "bad or future date"}})
async def get_daily(request: Request, _: Operator,
                    date_: Annotated[str | None, Query(alias="date", description="YYYY-MM-DD (station day); "
                                                       "default today")] = None,
                    format_: Annotated[str | None, Query(alias="format", pattern="^(json|csv|html)$")] = None,
                    ) -> Response:
    station = request.app.state.station
    fmt = format_ or negotiate(request.headers.get("accept"))
    day = parse_day(date_, station.clock.day())
    doc = await daily_report(station, day)
    if fmt == "csv":
        return Response(to_csv(doc), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="laporan-blangko-{day}.csv"',
                                 "Cache-Control": "no-store"})
    if fmt == "html":
        return HTMLResponse(to_html(doc), headers={"Cache-Control": "no-store"})
    return JSONResponse(doc, headers={"Cache-Control": "no-store"})


async def monthly_report(station: Any, month: str) -> dict[str, Any]:
    """The JSON document of a month's report."""
    cfg = station.settings.station
    today = station.clock.day()

    def build() -> dict[str, Any]:
        assert station.database is not None
        with station.database._lock:
            return build_monthly(station.database.conn, month, today=today, printers=list(station.settings.printers),
                                 station=cfg.name, office=cfg.office).as_dict()

    doc = await station.db(build)
    doc["generated_at"] = station.clock.iso(station.clock.now())
    year, mon = (int(x) for x in month.split("-"))
    following = f"{year + mon // 12:04d}-{mon % 12 + 1:02d}-01"
    chips = await chips_detail(station, station.clock.day_bounds(f"{month}-01")[0],
                               station.clock.day_bounds(following)[0])
    doc["chips"] = chips
    doc["chips_by_state"] = {state: sum(1 for c in chips if c["state"] == state)
                             for state in ("encoded", "encode_failed", "handed_over", "destroyed")}
    return doc


@router.get("/monthly", summary="The monthly blangko report (JSON, CSV or printable HTML by Accept)",
            responses={200: {"content": {"application/json": {}, "text/csv": {}, "text/html": {}}},
                       406: {"description": "none of JSON, CSV, HTML is acceptable"},
                       422: {"description": "bad or future month"}})
async def get_monthly(request: Request, _: Operator,
                      month: Annotated[str | None, Query(description="YYYY-MM (station time); default this month")]
                      = None,
                      format_: Annotated[str | None, Query(alias="format", pattern="^(json|csv|html)$")] = None,
                      ) -> Response:
    station = request.app.state.station
    fmt = format_ or negotiate(request.headers.get("accept"))
    which = parse_month(month, station.clock.day())
    doc = await monthly_report(station, which)
    if fmt == "csv":
        return Response(monthly_csv(doc), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="laporan-blangko-{which}.csv"',
                                 "Cache-Control": "no-store"})
    if fmt == "html":
        return HTMLResponse(monthly_html(doc), headers={"Cache-Control": "no-store"})
    return JSONResponse(doc, headers={"Cache-Control": "no-store"})
