"""Issue 14 item 9: a progressive-JPEG "scan bomb" (2048x1291, thousands of scans, ~75 s of CPU to decode)
is refused at submission from the file's structure, before Pillow decodes a pixel; so is a file whose
structure is broken. A card's ordinary PNG and JPEG (baseline or progressive) still pass."""
from __future__ import annotations

import base64
import io
import re
import struct
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from printd.cards.checks import MAX_SCANS, check_card_image
from printd.cards.structure import read_structure
from printd.errors import Invalid
from tests.support import config_text, daemon_thread, job_payload

_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7]")


def _card(fmt: str = "PNG", size: tuple[int, int] = (1012, 638), **save: Any) -> bytes:
    img = Image.effect_noise(size, 40).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, fmt, **save)
    return buf.getvalue()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _segments(jpeg: bytes) -> list[tuple[int, int, int]]:
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


def scan_bomb(copies: int = 3000) -> bytes:
    """A progressive JPEG of 2048 x 1291 px with thousands of scans, built as such bombs are: a real
    progressive file whose smallest scan (with its Huffman table) is repeated; libjpeg decodes each
    repeat as another pass over the whole image."""
    jpeg = _card("JPEG", (2048, 1291), progressive=True, quality=85)
    segs = _segments(jpeg)
    i = min((k for k, s in enumerate(segs) if s[0] == 0xDA and segs[k - 1][0] == 0xC4),
            key=lambda k: segs[k][2] - segs[k][1])
    repeat = jpeg[segs[i - 1][1]:segs[i][2]]
    end = segs[-1][2]
    return jpeg[:end] + repeat * copies + jpeg[end:]


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to decode pixels fails the test: the bomb must be refused from its structure."""
    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("the check decoded pixels")

    monkeypatch.setattr(Image, "open", refuse)


def test_the_scan_bomb_is_refused_without_decoding(no_decoding: None) -> None:
    bomb = scan_bomb()
    assert len(bomb) > 1_000_000
    with pytest.raises(Invalid) as err:
        check_card_image("image/jpeg", _b64(bomb), "front")
    assert err.value.code == "invalid_image" and err.value.field == "front.data"
    assert f"more than {MAX_SCANS} scans" in str(err.value)


def test_fewer_scans_on_a_large_image_are_bounded_by_decode_work(no_decoding: None) -> None:
    bomb = scan_bomb(copies=50)   # under the scan count, but 60 passes over 2048 x 1291 px
    assert read_structure(bomb, max_scans=10_000).scans <= MAX_SCANS
    with pytest.raises(Invalid, match="passes over 2048x1291 px"):
        check_card_image("image/jpeg", _b64(bomb), "front")


def test_ordinary_cards_still_pass_and_a_broken_png_does_not() -> None:
    for ctype, raw in (("image/png", _card("PNG")), ("image/jpeg", _card("JPEG", quality=90)),
                       ("image/jpeg", _card("JPEG", progressive=True, quality=90))):
        assert check_card_image(ctype, _b64(raw), "front") == raw
    png = bytearray(_card("PNG"))
    png[40] ^= 0xFF   # inside the first chunk after IHDR: its CRC no longer matches
    with pytest.raises(Invalid) as err:
        check_card_image("image/png", _b64(bytes(png)), "front")
    assert err.value.code == "invalid_image"


@pytest.mark.e2e
def test_the_daemon_refuses_the_scan_bomb_with_422_and_stores_nothing(tmp_path: Path) -> None:
    bomb = scan_bomb()
    with daemon_thread(config_text(), tmp_path / "state") as d, d.client(d.enrollment) as c:
        r = c.post("/api/v1/jobs", json=job_payload(1, front={"content_type": "image/jpeg", "data": _b64(bomb)}))
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_image"
        assert r.json()["error"]["field"] == "front.data"
        assert c.get("/api/v1/jobs").json()["items"] == []
        images = tmp_path / "state" / "images"
        assert not images.exists() or not any(p.is_file() for p in images.rglob("*"))
        assert httpx.get(d.url + "/healthz").status_code == 200
