"""The page's own routes: `/` (the operator page), `/login`, `/logout`, and the language switch.

Everything else the page shows comes from the JSON API under `/api/v1`, called with the session
cookie and the session's CSRF token; these routes only hand out the page and manage the session.
"""
from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from printd import __version__
from printd.config import CARD_TYPES
from printd.web.i18n import LANG_COOKIE, LANGS, Translator, lang_of, strings, zone_label
from printd.web.sessions import CSRF_FIELD, PAGE_ROLES, Sessions
from printd.web.throttle import LoginThrottle

log = logging.getLogger("printd.web")
router = APIRouter(include_in_schema=False)

LOGIN_COOKIE = "printd_login"
MAX_FORM_BYTES = 4096
_env = Environment(loader=PackageLoader("printd.web", "templates"), autoescape=select_autoescape(["html"]),
                   trim_blocks=True, lstrip_blocks=True)

#: the page loads nothing from anywhere but the daemon (the print PC may be offline; no CDN)
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
_SECURITY_HEADERS = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _html(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    body = _env.get_template(template).render(version=__version__, **context)
    return HTMLResponse(body, status_code=status, headers=_SECURITY_HEADERS)


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


def _sessions(request: Request) -> Sessions:
    return request.app.state.sessions


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form, first value of each field (small; the login form has three fields)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    parsed = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


def _safe_next(url: str | None) -> str:
    """Only a path on this site (never //host or a scheme): no open redirect."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return "/"
    return url


# ------------------------------------------------------------------------------------------ the page

@router.get("/", response_class=HTMLResponse)
async def index(request: Request) -> Response:
    session = _sessions(request).session(request)
    if session is None or session.role not in PAGE_ROLES:
        return _redirect("/login")
    settings = request.app.state.settings
    station = request.app.state.station
    lang = lang_of(request)
    config = {
        "user": session.user, "role": session.role.value, "lang": lang,
        "timezone": settings.station.timezone, "tz_label": zone_label(settings.station.timezone),
        "daily_capacity": settings.station.daily_capacity, "station": settings.station.name,
        "office": settings.station.office, "card_types": list(CARD_TYPES),
        "printers": [{"name": name, "card_type": cfg.card_type} for name, cfg in settings.printers.items()],
        "session_expires_at": session.expires_at, "version": __version__,
        "simulated": any(w.simulated for w in station.workers.values()),
        "reader": bool(settings.station.reader),   # chip steps (hand-over, tapping before destruction)
    }
    return _html("app.html", t=Translator(lang), lang=lang, csrf=session.csrf, config=config,
                 strings=strings(lang), user=session.user, role=session.role.value,
                 printers=config["printers"], card_types=CARD_TYPES, station=settings.station)


# ------------------------------------------------------------------------------------------ login

def _login_page(request: Request, *, status: int = 200, error: str | None = None,
                username: str = "") -> Response:
    """The login form with a fresh login nonce (cookie + hidden field) against login CSRF."""
    lang = lang_of(request)
    nonce = secrets.token_urlsafe(24)
    response = _html("login.html", status=status, t=Translator(lang), lang=lang, nonce=nonce, error=error,
                     username=username, station=request.app.state.settings.station, other_lang=_other(lang))
    response.set_cookie(LOGIN_COOKIE, nonce, max_age=3600, path="/login", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    return response


def _other(lang: str) -> str:
    return "en" if lang == "id" else "id"


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> Response:
    if _sessions(request).principal(request) is not None:
        return _redirect("/")
    return _login_page(request)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    form = await _form(request)
    t = Translator(lang_of(request))
    username = form.get("username", "").strip()[:64]
    password = form.get("password", "")
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    sent = form.get(CSRF_FIELD, "")
    # a login form posted from elsewhere (login CSRF) carries no matching nonce: SameSite=Strict
    # keeps the cookie from being sent cross-site at all
    if not nonce or not sent or not hmac.compare_digest(nonce.encode(), sent.encode()):
        return _login_page(request, status=403, error=t("login.error_expired"), username=username)
    throttle: LoginThrottle = request.app.state.login_throttle
    address = _address(request)
    station = request.app.state.station
    # checked and reserved in one step: parallel attempts cannot all pass before the first one fails
    wait = throttle.begin(username, address)
    if wait > 0:
        log.warning("login for %r from %s refused: locked out for %.0f s more", username, address, wait)
        response = _login_page(request, status=429, username=username,
                               error=t("login.error_throttled", seconds=max(1, round(wait))))
        response.headers["Retry-After"] = str(max(1, round(wait)))
        return response
    accounts = request.app.state.accounts
    # scrypt takes ~50 ms: keep it off both the event loop and the database thread that dispatches cards
    loop = asyncio.get_running_loop()
    try:
        principal = await loop.run_in_executor(None, accounts.verify_user, username, password)
    except BaseException:
        throttle.end(username, address, None)
        raise
    if principal is None:
        wait = throttle.end(username, address, False)
        await station.audit(f"address:{address}", "session.login_failed", username or None,
                            {"address": address, "locked_out_s": round(wait, 1)})
        return _login_page(request, status=401, error=t("login.error_wrong"), username=username)
    if principal.role not in PAGE_ROLES:
        throttle.end(username, address, None)   # the password was right; the role may not use the page
        await station.audit(principal.actor, "session.login_refused", principal.name,
                            {"address": address, "role": principal.role.value})
        return _login_page(request, status=403, error=t("login.error_role"), username=username)
    throttle.end(username, address, True)
    sessions = _sessions(request)
    value, _ = await sessions.create(principal, address)
    await station.audit(principal.actor, "session.login", principal.name, {"address": address})
    response = _redirect("/")
    sessions.set_cookie(response, value, request)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    sessions = _sessions(request)
    session = sessions.session(request)
    if session is None:
        return _redirect("/login")
    form = await _form(request)
    if not sessions.csrf_ok(request, submitted=form.get(CSRF_FIELD, "")):
        t = Translator(lang_of(request))
        return HTMLResponse(t("error.csrf"), status_code=403, headers=_SECURITY_HEADERS)
    await sessions.end(session)
    await request.app.state.station.audit(session.principal.actor, "session.logout", session.user,
                                          {"address": _address(request)})
    response = _redirect("/login")
    sessions.clear_cookie(response, request)
    return response


@router.get("/lang/{lang}")
async def set_language(lang: str, request: Request, next: str | None = None) -> Response:
    """The language switch: a preference cookie (a year), then back to where the person was."""
    response = _redirect(_safe_next(next))
    if lang in LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, path="/", samesite="strict",
                            secure=request.url.scheme == "https")
    return response
