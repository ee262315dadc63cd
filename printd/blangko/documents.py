"""The printable berita acara of the custody documents, one A4 page each (Bahasa Indonesia).

- *Berita Acara Pemusnahan* (a destruction): office, day and date in words as such documents write them,
  the cards by card type and category, the method (potong / bakar), the witnesses with signature lines.
- *Berita Acara Penyerahan* (a return to the ministry), from the brankas or from custody.
- *Berita Acara Serah Terima* (BAST) of a delivery received into the brankas.

Rendered with Jinja2 from `printd/web/templates/ba_*.html` (no script, no CDN: the print PC may be
offline); tests print each through Chromium to PDF and count the pages.
"""
from __future__ import annotations

from typing import Any

from printd.blangko.custody import Document
from printd.blangko.report_formats import CARD_TYPE_LABELS, env

TEMPLATES = {"destruction": "ba_pemusnahan.html", "return": "ba_penyerahan.html", "receipt": "ba_serah_terima.html"}
METHOD_LABELS = {"potong": "dipotong (digunting hingga tidak dapat digunakan)", "bakar": "dibakar"}
SOURCE_LABELS = {"brankas": "blangko belum terpakai dari brankas", "rusak": "kartu rusak dari tempat penyimpanan"}


def context(doc: Document, *, office: str, station: str, generated_at: str | None) -> dict[str, Any]:
    """What a berita acara template needs: the document, the office and the labels."""
    return {"d": doc.as_dict(), "office": office, "station": station, "generated_at": generated_at,
            "card_type_label": CARD_TYPE_LABELS.get(doc.card_type, doc.card_type),
            "method_label": METHOD_LABELS.get(doc.method or "", doc.method or ""),
            "source_label": SOURCE_LABELS.get(doc.source or "", doc.source or "")}


def render(doc: Document, *, office: str, station: str, generated_at: str | None) -> str:
    """The berita acara of `doc` as a printable HTML page."""
    template = env().get_template(TEMPLATES[doc.kind])
    return template.render(**context(doc, office=office, station=station, generated_at=generated_at))
