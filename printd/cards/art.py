"""Card pictures printd draws itself: the technician's test card and sample cards for demos and simulation."""
from __future__ import annotations

import io

from PIL import Image, ImageDraw

#: CR80 at 300 dpi is 1012 x 638 px (85.60 x 53.98 mm)
CR80_PX = (1012, 638)


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=False, compress_level=1)
    return buf.getvalue()


def test_card(printer: str, when: str, size: tuple[int, int] = CR80_PX) -> bytes:
    """Colour bars, a grey ramp, an alignment grid and the printer's name and time."""
    w, h = size
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    bars = [(0, 255, 255), (255, 0, 255), (255, 255, 0), (0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255)]
    bw = w // len(bars)
    for i, c in enumerate(bars):
        d.rectangle([i * bw, 0, (i + 1) * bw - 1, h // 4], fill=c)
    for i in range(16):
        g = 255 - i * 17
        d.rectangle([i * w // 16, h // 4, (i + 1) * w // 16 - 1, h // 4 + h // 10], fill=(g, g, g))
    for x in range(0, w, w // 20):
        d.line([x, h // 2, x, h - 1], fill=(128, 128, 128))
    for y in range(h // 2, h, h // 16):
        d.line([0, y, w - 1, y], fill=(128, 128, 128))
    d.rectangle([0, 0, w - 1, h - 1], outline=(0, 0, 0), width=3)
    d.text((20, h // 4 + h // 10 + 10), f"printd test card - {printer} - {when}", fill=(0, 0, 0))
    return _png(img)


def sample_card(label: str, index: int, size: tuple[int, int] = (324, 204), back: bool = False) -> bytes:
    """A small, distinct demo card (no personal data)."""
    w, h = size
    hue = (index * 37) % 200
    img = Image.new("RGB", size, (230, 240 - hue // 4, 255 - hue // 2))
    d = ImageDraw.Draw(img)
    d.rectangle([8, 8, w // 3, h - 8], fill=(200, 200, 200) if not back else (60, 60, 60))
    d.text((w // 3 + 10, 20), ("BACK " if back else "") + label[:30], fill=(0, 0, 0))
    d.text((w // 3 + 10, 40), f"#{index}", fill=(0, 0, 0))
    return _png(img)
