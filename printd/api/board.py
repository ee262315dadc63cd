"""`GET /board`: the public stock board for a screen in the waiting room.

Today's blank stock per card type and the day's progress (cards printed of the station's daily
capacity), large type, Bahasa Indonesia, reloading itself every minute. Offices publish the day's
blank stock so that nobody can be told "there are no blanks" for a fee (pungli). It shows counts
only: no names, no NIKs, no job ids, and it needs no login.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from printd.blangko.report_formats import CARD_TYPE_LABELS, env, tanggal
from printd.blangko.reports import flows_today

router = APIRouter(tags=["board"])

REFRESH_S = 60
#: no script at all; styles from /static only; nothing else
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


async def board_figures(station: Any) -> dict[str, Any]:
    """The board's counts: stock per card type, today's use, progress against the daily capacity."""
    balances = await station.db(station.stock.balances)
    day = station.clock.day()

    def today() -> dict[str, dict[str, Any]]:
        with station.database._lock:
            return flows_today(station.database.conn, day)

    flows = await station.db(today)
    cfg = station.settings.station
    rows = [{"card_type": ct, "label": CARD_TYPE_LABELS.get(ct, ct), "stock": b["total"],
             "printed_today": flows.get(ct, {}).get("printed_today", 0),
             "spoiled_today": flows.get(ct, {}).get("spoiled_today", 0)} for ct, b in balances.items()]
    printed = sum(r["printed_today"] for r in rows)
    now_iso = station.clock.iso(station.clock.now())
    return {"office": cfg.office, "date": day, "time": now_iso[11:16] if now_iso else "",
            "card_types": rows, "printed_today": printed, "capacity": cfg.daily_capacity,
            "percent": min(100, round(100 * printed / cfg.daily_capacity)) if cfg.daily_capacity else 0}


@router.get("/board", response_class=HTMLResponse, summary="Public stock board (no login, no personal data)",
            responses={200: {"content": {"text/html": {}}}})
async def board(request: Request) -> HTMLResponse:
    figures = await board_figures(request.app.state.station)
    html = env().get_template("board.html").render(b=figures, refresh_s=REFRESH_S, tanggal=tanggal)
    return HTMLResponse(html, headers=_HEADERS)
