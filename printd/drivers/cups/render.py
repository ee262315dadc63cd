"""Card images -> the document a CUPS card queue takes: a PDF with one CR80 page per printed side."""
from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

#: ISO/IEC 7810 ID-1 (CR80) card size
CR80_MM = (85.6, 53.98)
#: the resolution card printers (HDP5000, Evolis) print at
DPI = 300
MM_PER_INCH = 25.4


def card_pixels(portrait: bool = False) -> tuple[int, int]:
    """A CR80 side in printer pixels at DPI (landscape unless `portrait`)."""
    w, h = (round(mm / MM_PER_INCH * DPI) for mm in CR80_MM)
    return (h, w) if portrait else (w, h)


def _side(png: bytes) -> Image.Image:
    img: Image.Image = Image.open(io.BytesIO(png))
    img.load()
    if img.mode in ("RGBA", "LA", "P"):
        # blank card stock is white: transparency must not come out as black
        img = img.convert("RGBA")
        flat = Image.new("RGB", img.size, (255, 255, 255))
        flat.paste(img, mask=img.getchannel("A"))
        img = flat
    elif img.mode != "RGB":
        img = img.convert("RGB")
    # keep the artwork's orientation; the page is exactly a card so nothing is scaled by the queue
    size = card_pixels(portrait=img.height > img.width)
    if img.size != size:
        img = img.resize(size, Image.Resampling.LANCZOS)
    return img


@dataclass(frozen=True)
class PreparedDocument:
    """A card's CUPS document made ahead of printing."""

    pdf: bytes


def render_card_pdf(front_png: bytes, back_png: bytes | None = None) -> bytes:
    """A PDF with the front page and, for a dual-sided card, the back page, each CR80-sized."""
    front = _side(front_png)
    buf = io.BytesIO()
    extra = [_side(back_png)] if back_png is not None else []
    front.save(buf, "PDF", resolution=float(DPI), save_all=bool(extra), append_images=extra)
    return buf.getvalue()
