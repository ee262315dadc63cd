"""The daily report as JSON, CSV and a printable A4 page (Bahasa Indonesia).

The page is rendered with Jinja2 from `printd/web/templates/report_daily.html`, shipped in the wheel:
no CDN, no script, so it prints the same on an offline PC.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import asdict
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from printd.blangko.reports import DailyReport

TEMPLATES = Path(__file__).resolve().parent.parent / "web" / "templates"

CSV_COLUMNS = ("section", "date", "card_type", "location", "printer", "reason", "job_id", "state", "opening",
               "received", "loaded_in", "loaded_out", "printed", "consumed", "spoiled", "spoiled_after_print",
               "test", "adjusted", "returned", "closing")

_DAYS = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
_MONTHS = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
           "November", "Desember")
CARD_TYPE_LABELS = {"ktp-el": "KTP-el", "kia": "KIA"}
REASON_LABELS = {
    "media-jam": "kartu macet", "marker-supply-empty": "pita habis saat mencetak", "cover-open": "tutup terbuka",
    "offline": "printer terputus", "operator": "ditetapkan operator", "counter": "menurut penghitung printer",
    "late-answer": "menurut jawaban printer yang terlambat", "reprint": "cetak ulang (kartu cacat)",
    "other": "lainnya", "canceled": "dibatalkan saat mencetak",
}
STATE_LABELS = {"queued": "antre", "held": "ditahan", "printing": "mencetak", "in_doubt": "belum pasti",
                "printed": "tercetak", "failed": "gagal", "canceled": "dibatalkan"}


def tanggal(day: str) -> str:
    """`2026-11-30` -> `Senin, 30 November 2026`."""
    d = date.fromisoformat(day)
    return f"{_DAYS[d.weekday()]}, {d.day} {_MONTHS[d.month - 1]} {d.year}"


_ZONES = {"+07:00": "WIB", "+08:00": "WITA", "+09:00": "WIT"}


def waktu(iso: str | None) -> str:
    """`2026-11-30T10:42:05+07:00` -> `30 November 2026 pukul 10.42 WIB`."""
    if not iso:
        return ""
    d = date.fromisoformat(iso[:10])
    offset = iso[19:]
    zone = _ZONES.get(offset, f"UTC{offset}")
    return f"{d.day} {_MONTHS[d.month - 1]} {d.year} pukul {iso[11:13]}.{iso[14:16]} {zone}"


def location_label(location: str) -> str:
    return "Brankas" if location == "safe" else f"Hopper {location.split(':', 1)[-1]}"


def as_json(report: DailyReport, jobs: list[dict[str, Any]], iso: Callable[[float], str | None],
            generated_at: str | None) -> dict[str, Any]:
    """The API's report object; `jobs` are the job objects of `report.in_doubt`, in order."""
    card_types = []
    for c in report.card_types:
        row = asdict(c)
        row["adjustments"] = [{**a, "at": iso(a["at"])} for a in row["adjustments"]]
        card_types.append(row)
    return {"date": report.date, "station": report.station, "office": report.office, "final": report.final,
            "generated_at": generated_at, "card_types": card_types,
            "printers": [asdict(p) for p in report.printers], "in_doubt": jobs}


def to_csv(doc: dict[str, Any]) -> str:
    """One table, a `section` column telling what each row is: card_type, location, spoiled_reason,
    adjustment, printer, in_doubt. Fields that do not apply to a section are empty."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, CSV_COLUMNS, extrasaction="ignore", lineterminator="\r\n")
    w.writeheader()
    day = doc["date"]
    for c in doc["card_types"]:
        ct = c["card_type"]
        w.writerow({**c, "section": "card_type", "date": day})
        for loc in c["locations"]:
            w.writerow({**loc, "section": "location", "date": day, "card_type": ct})
        for reason, n in c["spoiled_by_reason"].items():
            w.writerow({"section": "spoiled_reason", "date": day, "card_type": ct, "reason": reason, "spoiled": n})
        for a in c["adjustments"]:
            w.writerow({"section": "adjustment", "date": day, "card_type": ct, "location": a["location"],
                        "reason": a["reason"], "adjusted": a["delta"]})
    for p in doc["printers"]:
        w.writerow({**p, "section": "printer", "date": day, "printer": p["name"]})
    for j in doc["in_doubt"]:
        w.writerow({"section": "in_doubt", "date": day, "card_type": j["card_type"], "printer": j["printer"],
                    "job_id": j["id"], "state": j["state"]})
    return buf.getvalue()


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["tanggal"] = tanggal
    env.filters["location"] = location_label
    env.filters["card_type"] = lambda ct: CARD_TYPE_LABELS.get(ct, ct)
    env.filters["reason"] = lambda r: REASON_LABELS.get(r, r)
    env.filters["state"] = lambda s: STATE_LABELS.get(s, s)
    env.filters["waktu"] = waktu
    env.filters["jam"] = lambda iso: iso[11:16] if iso else ""
    env.filters["signed"] = lambda n: f"+{n}" if n > 0 else str(n)
    return env


def to_html(doc: dict[str, Any]) -> str:
    """The printable A4 page of the report (Bahasa Indonesia)."""
    return _env().get_template("report_daily.html").render(r=doc)
