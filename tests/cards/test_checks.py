"""The structure check at submission: what it refuses without decoding a pixel, and what it lets through."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageFile

from printd.cards.checks import MAX_SCANS, check_card_image
from printd.cards.structure import StructureError, read_structure
from printd.errors import Invalid
from tests.cards.images import b64, jpeg_segments, noise_card
from tests.support import config_text, daemon_thread, job_payload


def scan_bomb(copies: int = 3000) -> bytes:
    """A progressive JPEG of 2048 x 1291 px with thousands of scans, as in issue 14 item 9.

    Built as such bombs are: a real progressive file with one small scan (its Huffman table and
    scan header) repeated; libjpeg decodes each repeat as another pass over the image.
    """
    jpeg = noise_card("JPEG", (2048, 1291), progressive=True, quality=85)
    segs = jpeg_segments(jpeg)
    i = min((k for k, s in enumerate(segs) if s[0] == 0xDA and segs[k - 1][0] == 0xC4),
            key=lambda k: segs[k][2] - segs[k][1])
    repeat = jpeg[segs[i - 1][1]:segs[i][2]]
    end = segs[-1][2]
    return jpeg[:end] + repeat * copies + jpeg[end:]


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to decode pixels fails the test: the checks must read the structure only."""
    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("the submission check decoded pixels")

    monkeypatch.setattr(Image, "open", refuse)
    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


def test_good_png_and_jpeg_pass_without_decoding(no_decoding: None) -> None:
    for ctype, raw in (("image/png", noise_card("PNG")), ("image/jpeg", noise_card("JPEG", quality=90)),
                       ("image/jpeg", noise_card("JPEG", progressive=True, quality=90))):
        assert check_card_image(ctype, b64(raw), "front") == raw


def test_the_scan_bomb_is_refused_without_decoding(no_decoding: None) -> None:
    bomb = scan_bomb()
    assert len(bomb) > 1_000_000
    with pytest.raises(Invalid) as err:
        check_card_image("image/jpeg", b64(bomb), "front")
    assert err.value.code == "invalid_image" and err.value.field == "front.data"
    assert f"more than {MAX_SCANS} scans" in str(err.value)


def test_many_scans_on_a_large_image_are_bounded_by_decode_work() -> None:
    # 60 scans pass the scan count, but 60 passes over 2048 x 1291 px exceed the decode-work bound
    bomb = scan_bomb(copies=50)
    assert read_structure(bomb, max_scans=10_000).scans <= MAX_SCANS
    with pytest.raises(Invalid, match="passes over 2048x1291 px"):
        check_card_image("image/jpeg", b64(bomb), "front")


def test_declared_type_must_match_the_magic_bytes() -> None:
    with pytest.raises(Invalid, match="declared image/jpeg but the data is PNG"):
        check_card_image("image/jpeg", b64(noise_card("PNG")), "back")


def _rechunk(png: bytes, kind: bytes, body: bytes | None = None, fix_crc: bool = True) -> bytes:
    """`png` with chunk `kind`'s body replaced (its CRC recomputed unless told not to)."""
    pos, out = 8, [png[:8]]
    while pos < len(png):
        length, k = struct.unpack_from(">I4s", png, pos)
        data = png[pos + 8:pos + 8 + length]
        crc = png[pos + 8 + length:pos + 12 + length]
        if k == kind:
            data = body if body is not None else data
            crc = struct.pack(">I", zlib.crc32(k + data)) if fix_crc else b"\0\0\0\0"
        out.append(struct.pack(">I", len(data)) + k + data + crc)
        pos += 12 + length
    return b"".join(out)


@pytest.mark.parametrize("mutate,message", [
    (lambda p: p[: len(p) // 2], "truncated|past the end"),
    (lambda p: p[:-12], "before its IEND"),
    (lambda p: _rechunk(p, b"IDAT", fix_crc=False), "wrong CRC"),
    (lambda p: p[:8] + p[33:], "IHDR"),
    (lambda p: _rechunk(p, b"IHDR", struct.pack(">IIBBBBB", 1012, 638, 3, 2, 0, 0, 0)), "bit depth"),
])
def test_malformed_png_is_refused(mutate: Any, message: str) -> None:
    with pytest.raises(StructureError, match=message):
        read_structure(mutate(noise_card("PNG")), max_scans=MAX_SCANS)


@pytest.mark.parametrize("mutate,message", [
    (lambda j: j[: len(j) // 2], "truncated"),
    (lambda j: j[:-2], "EOI|truncated"),
    (lambda j: j.replace(b"\xff\xc0", b"\xff\xc3", 1), "lossless"),
    (lambda j: j[:2] + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" + j[2:], "before its frame"),
])
def test_malformed_jpeg_is_refused(mutate: Any, message: str) -> None:
    with pytest.raises(StructureError, match=message):
        read_structure(mutate(noise_card("JPEG", quality=80)), max_scans=MAX_SCANS)


def test_a_png_whose_pixels_do_not_decode_passes_the_structure_check() -> None:
    """The contract's split: chunks whole and CRCs right, but the compressed pixels are garbage. The
    structure check lets it through; preparation (tests/cards/test_prepare.py) finds it."""
    png = _rechunk(noise_card("PNG"), b"IDAT", b"\x78\x9c" + b"\x13\x37" * 500)
    assert check_card_image("image/png", b64(png), "front") == png


@pytest.mark.e2e
def test_the_daemon_refuses_the_scan_bomb_with_422_and_stores_nothing(tmp_path: Path) -> None:
    """Issue 14, item 9, against the real daemon: the bomb is a 422 invalid_image, no job, no image file."""
    bomb = scan_bomb()
    with daemon_thread(config_text(), tmp_path / "state") as d, d.client(d.enrollment) as c:
        r = c.post("/api/v1/jobs", json=job_payload(1, front={"content_type": "image/jpeg", "data": b64(bomb)}))
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "invalid_image" and r.json()["error"]["field"] == "front.data"
        assert c.get("/api/v1/jobs").json()["items"] == []
        assert list((d.state_dir / "images").glob("*.img")) == []
