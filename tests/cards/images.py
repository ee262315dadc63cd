"""Card images for the structure-check tests: noisy photos (they compress like real ones) and the
segments of a JPEG, so a test can rebuild one with a part changed."""
from __future__ import annotations

import base64
import io
import re
import struct
from typing import Any

from PIL import Image

_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7]")


def noise_card(fmt: str = "PNG", size: tuple[int, int] = (1012, 638), **save: Any) -> bytes:
    """A CR80-sized image of noise in `fmt` (Pillow's `save` options pass through)."""
    img = Image.effect_noise(size, 40).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, fmt, **save)
    return buf.getvalue()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def jpeg_segments(jpeg: bytes) -> list[tuple[int, int, int]]:
    """(marker, start, end) of each JPEG segment, a scan including its entropy-coded data."""
    out, pos = [], 2
    while True:
        while jpeg[pos] == 0xFF:
            pos += 1
        marker, start = jpeg[pos], pos - 1
        pos += 1
        if marker == 0xD9:
            return out
        pos += struct.unpack_from(">H", jpeg, pos)[0]
        if marker == 0xDA:
            found = _SCAN_END.search(jpeg, pos)
            assert found is not None
            pos = found.start()
        out.append((marker, start, pos))
