"""The page's languages: every UI string lives in `web/i18n/<lang>.json`; Bahasa Indonesia by default.

The same dictionaries serve the templates (through `Translator`) and the page's scripts (embedded as
JSON in the page), so a string is translated in exactly one place. `{name}` in a string is filled
from keyword arguments.
"""
from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo

from starlette.requests import Request

LANGS = ("id", "en")
DEFAULT_LANG = "id"
LANG_COOKIE = "printd_lang"
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")

#: Indonesia's three time zones have names every operator knows; elsewhere show the UTC offset
_ZONE_LABELS = {"Asia/Jakarta": "WIB", "Asia/Pontianak": "WIB", "Asia/Makassar": "WITA",
                "Asia/Jayapura": "WIT"}


@cache
def strings(lang: str) -> dict[str, str]:
    """The dictionary of one language (read once from the package)."""
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}")
    text = resources.files("printd.web").joinpath("i18n", f"{lang}.json").read_text(encoding="utf-8")
    data = json.loads(text)
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ValueError(f"i18n/{lang}.json must be one flat object of strings")
    return data


def lang_of(request: Request) -> str:
    """The language the person chose (cookie), else Bahasa Indonesia."""
    lang = request.cookies.get(LANG_COOKIE, DEFAULT_LANG)
    return lang if lang in LANGS else DEFAULT_LANG


class Translator:
    """`t("nav.queue")` -> "Antrian"; unknown keys show as themselves (a test keeps them all known)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.strings = strings(lang)

    def __call__(self, key: str, **params: object) -> str:
        text = self.strings.get(key, key)
        return _PLACEHOLDER.sub(lambda m: str(params.get(m.group(1), m.group(0))), text)


def zone_label(timezone: str) -> str:
    """WIB / WITA / WIT for Indonesia's zones, else e.g. UTC+8."""
    if timezone in _ZONE_LABELS:
        return _ZONE_LABELS[timezone]
    offset = datetime.now(ZoneInfo(timezone)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")
