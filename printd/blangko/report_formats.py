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
               "test", "adjusted", "returned", "closing", "category", "custody_opening", "custody_in", "surrendered",
               "destroyed", "custody_closing")

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
CATEGORY_LABELS = {
    "gagal_cetak": "gagal cetak", "gagal_encode": "gagal encode (chip)", "rusak_fisik": "rusak fisik",
    "cacat_pabrik": "cacat pabrik / tidak ada chip", "perubahan_data": "perubahan elemen data",
    "surrendered": "KTP-el lama yang diserahkan", "tanpa_kategori": "tanpa kategori (sebelum kategori dicatat)",
}
STATE_LABELS = {"queued": "antre", "held": "ditahan", "printing": "mencetak", "in_doubt": "belum pasti",
                "printed": "tercetak", "failed": "gagal", "canceled": "dibatalkan"}


def tanggal_pendek(day: str) -> str:
    """`2026-12-04` -> `4 Desember 2026`."""
    d = date.fromisoformat(day)
    return f"{d.day} {_MONTHS[d.month - 1]} {d.year}"


def bulan(month: str) -> str:
    """`2026-12` -> `Desember 2026`."""
    return f"{_MONTHS[int(month[5:7]) - 1]} {month[:4]}"


def hari(day: str) -> str:
    """`2026-12-04` -> `Jumat`."""
    return _DAYS[date.fromisoformat(day).weekday()]


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
        for category, n in c["spoiled_by_category"].items():
            w.writerow({"section": "spoiled_category", "date": day, "card_type": ct, "category": category,
                        "spoiled": n})
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
def env() -> jinja2.Environment:
    """The Jinja2 environment of the printable documents (reports, berita acara), with their filters."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["tanggal"] = tanggal
    env.filters["tanggal_pendek"] = tanggal_pendek
    env.filters["bulan"] = bulan
    env.filters["hari"] = hari
    env.filters["category"] = lambda c: CATEGORY_LABELS.get(c, c)
    env.filters["terbilang"] = terbilang
    env.filters["angka"] = lambda n: f"{n:,}".replace(",", ".")   # 2.240, as Indonesian writes it
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
    return env().get_template("report_daily.html").render(r=doc)


_ONES = ("", "satu", "dua", "tiga", "empat", "lima", "enam", "tujuh", "delapan", "sembilan", "sepuluh", "sebelas")


def terbilang(n: int) -> str:
    """A count in Indonesian words, as berita acara write it: 125 -> `seratus dua puluh lima`."""
    if n < 0:
        return "minus " + terbilang(-n)
    if n == 0:
        return "nol"
    if n < 12:
        return _ONES[n]
    if n < 20:
        return f"{_ONES[n - 10]} belas"
    if n < 100:
        return f"{_ONES[n // 10]} puluh {terbilang(n % 10) if n % 10 else ''}".strip()
    if n < 200:
        return f"seratus {terbilang(n - 100) if n > 100 else ''}".strip()
    if n < 1000:
        return f"{_ONES[n // 100]} ratus {terbilang(n % 100) if n % 100 else ''}".strip()
    if n < 2000:
        return f"seribu {terbilang(n - 1000) if n > 1000 else ''}".strip()
    if n < 1_000_000:
        return f"{terbilang(n // 1000)} ribu {terbilang(n % 1000) if n % 1000 else ''}".strip()
    return f"{terbilang(n // 1_000_000)} juta {terbilang(n % 1_000_000) if n % 1_000_000 else ''}".strip()


MONTHLY_CSV_COLUMNS = ("section", "month", "card_type", "category", "printer", "date", "opening", "received",
                       "printed", "consumed", "spoiled", "test", "surrendered", "destroyed", "returned",
                       "returned_brankas", "returned_rusak", "adjusted", "closing", "custody_opening",
                       "custody_closing", "kind", "source", "lent", "installed", "returned_unused", "average_yield")


def monthly_csv(doc: dict[str, Any]) -> str:
    """The monthly report as one table: sections card_type, spoiled_category, printer, day."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, MONTHLY_CSV_COLUMNS, extrasaction="ignore", lineterminator="\r\n")
    w.writeheader()
    month = doc["month"]
    for c in doc["card_types"]:
        w.writerow({**c, "section": "card_type", "month": month, "returned_brankas": c["returned_by_source"]["brankas"],
                    "returned_rusak": c["returned_by_source"]["rusak"]})
        for category, n in c["spoiled_by_category"].items():
            w.writerow({"section": "spoiled_category", "month": month, "card_type": c["card_type"],
                        "category": category, "spoiled": n})
    for p in doc["printers"]:
        w.writerow({**p, "section": "printer", "month": month, "printer": p["name"]})
    for d in doc["days"]:
        w.writerow({**d, "section": "day", "month": month, "date": d["date"]})
    for s in doc.get("supplies", []):   # ribbon and film rolls (printd/supplies/report.py)
        w.writerow({**s, "section": "supplies", "month": month})
        for source, n in s["received_by_source"].items():
            w.writerow({"section": "supplies_source", "month": month, "kind": s["kind"], "source": source,
                        "received": n})
    return buf.getvalue()


def monthly_html(doc: dict[str, Any]) -> str:
    """The printable A4 monthly report (Bahasa Indonesia)."""
    return env().get_template("report_monthly.html").render(r=doc)
