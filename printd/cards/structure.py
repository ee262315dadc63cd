"""The structure of a PNG or JPEG file, read without decoding a pixel.

The submission path answers in about a millisecond, so it cannot afford a full decode (5-8 ms of CPU
a job, docs/benchmarks.md); it walks the file's container instead: the PNG signature, IHDR and every
chunk with its CRC up to IEND (PNG specification, ISO/IEC 15948 sections 5.3-5.6 and 11.2); the JPEG
markers from SOI to EOI with every segment's length, the frame header and each scan header
(ITU-T T.81 annex B). What it returns bounds the work a decoder will do: pixels, and for JPEG the
number of scans, since a progressive decoder passes over every coefficient once per scan (a "scan
bomb" of thousands of scans cost ~75 s of CPU to decode, issue 14). Whether the compressed data
inside decodes is found out later, off the request path (printd/cards/prepare.py).
"""
from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: PNG colour type -> bit depths allowed (ISO/IEC 15948 table 11.1)
PNG_DEPTHS: dict[int, frozenset[int]] = {0: frozenset({1, 2, 4, 8, 16}), 2: frozenset({8, 16}),
                                         3: frozenset({1, 2, 4, 8}), 4: frozenset({8, 16}), 6: frozenset({8, 16})}
#: more chunks than any card image has; a file of millions of empty chunks is refused, not walked
MAX_PNG_CHUNKS = 4096

#: JPEG frame types a card decoder takes: baseline, extended and progressive Huffman (T.81 table B.1).
#: Lossless, hierarchical and arithmetic-coded frames are refused: no card system makes them.
JPEG_FRAMES = {0xC0: "baseline", 0xC1: "extended", 0xC2: "progressive"}
_JPEG_OTHER_FRAMES = frozenset({0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
#: markers that stand alone (no length): TEM, RST0-7 (SOI and EOI are handled where they may appear)
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
#: the end of entropy-coded data: 0xFF followed by anything but a stuffed zero or a restart marker
_SEGMENT_END = re.compile(rb"\xff[^\x00\xd0-\xd7]")


class StructureError(ValueError):
    """The file is not a well-formed PNG/JPEG; the message says where, for the sender."""


@dataclass(frozen=True)
class ImageStructure:
    """What the container says: format, size and how much work a decoder will do."""

    format: str          # "PNG" or "JPEG"
    width: int
    height: int
    scans: int = 1       # JPEG scans (SOS segments); 1 for PNG
    progressive: bool = False

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def decode_work(self) -> int:
        """Pixel passes a decoder makes: pixels times scans (a progressive decoder refines every
        coefficient once per scan)."""
        return self.pixels * max(1, self.scans)


def sniff(raw: bytes) -> str | None:
    """The format the magic bytes name, or None."""
    if raw.startswith(PNG_SIGNATURE):
        return "PNG"
    if raw.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    return None


def read_structure(raw: bytes, *, max_scans: int) -> ImageStructure:
    """Walk a PNG or JPEG container; StructureError for anything malformed.

    `max_scans` stops the JPEG walk early: a file with more scans is refused without reading on.
    """
    kind = sniff(raw)
    if kind == "PNG":
        return _png(raw)
    if kind == "JPEG":
        return _jpeg(raw, max_scans)
    raise StructureError("the data is neither a PNG nor a JPEG (wrong magic bytes)")


def _png(raw: bytes) -> ImageStructure:
    pos = len(PNG_SIGNATURE)
    end = len(raw)
    width = height = 0
    colour = -1
    seen_idat = idat_ended = seen_plte = False
    chunks = 0
    while True:
        if pos + 12 > end:
            raise StructureError("the PNG ends before its IEND chunk (truncated)")
        length, kind = struct.unpack_from(">I4s", raw, pos)
        if length > 0x7FFFFFFF or pos + 12 + length > end:
            raise StructureError(f"PNG chunk {kind!r} at byte {pos} claims {length} bytes past the end of the file")
        if not kind.isalpha() or not kind.isascii():
            raise StructureError(f"PNG chunk at byte {pos} has an invalid type {kind!r}")
        body = raw[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack_from(">I", raw, pos + 8 + length)
        if zlib.crc32(body, zlib.crc32(kind)) != crc:
            raise StructureError(f"PNG chunk {kind.decode()} at byte {pos} has a wrong CRC (corrupt data)")
        chunks += 1
        if chunks > MAX_PNG_CHUNKS:
            raise StructureError(f"the PNG has more than {MAX_PNG_CHUNKS} chunks")
        if chunks == 1:
            if kind != b"IHDR" or length != 13:
                raise StructureError("the PNG does not start with a 13-byte IHDR chunk")
            width, height, depth, colour, compression, filtering, interlace = struct.unpack(">IIBBBBB", body)
            if not width or not height:
                raise StructureError("the PNG's IHDR declares a zero width or height")
            if depth not in PNG_DEPTHS.get(colour, frozenset()):
                raise StructureError(f"the PNG's IHDR has an invalid colour type {colour} / bit depth {depth}")
            if compression or filtering or interlace > 1:
                raise StructureError("the PNG's IHDR names an unknown compression, filter or interlace method")
        elif kind == b"IHDR":
            raise StructureError("the PNG has a second IHDR chunk")
        elif kind == b"PLTE":
            seen_plte = True
        elif kind == b"IDAT":
            if idat_ended:
                raise StructureError("the PNG's IDAT chunks are not consecutive")
            seen_idat = True
        elif kind == b"IEND":
            break
        elif seen_idat:
            idat_ended = True
        if kind[0:1].isupper() and kind not in (b"IHDR", b"PLTE", b"IDAT", b"IEND"):
            # critical chunks a decoder does not know must make it fail (15948 section 5.4)
            raise StructureError(f"the PNG has an unknown critical chunk {kind.decode()}")
        pos += 12 + length
    if not seen_idat:
        raise StructureError("the PNG has no image data (IDAT)")
    if colour == 3 and not seen_plte:
        raise StructureError("the PNG is palette-based but has no PLTE chunk")
    return ImageStructure("PNG", width, height)


def _jpeg(raw: bytes, max_scans: int) -> ImageStructure:
    end = len(raw)
    pos = 2   # after SOI
    frame: tuple[int, int, int, frozenset[int]] | None = None   # (type, width, height, component ids)
    scans = 0
    while True:
        if pos >= end or raw[pos] != 0xFF:
            raise StructureError(f"the JPEG has no marker at byte {pos} (corrupt or truncated)")
        while pos < end and raw[pos] == 0xFF:   # fill bytes may precede a marker (T.81 B.1.1.2)
            pos += 1
        if pos >= end:
            raise StructureError("the JPEG ends before its EOI marker (truncated)")
        marker = raw[pos]
        pos += 1
        if marker == 0xD9:   # EOI
            break
        if marker in _STANDALONE:
            continue
        if marker in (0x00, 0xD8):
            raise StructureError(f"the JPEG has a misplaced marker 0xFF{marker:02X} at byte {pos - 2}")
        if pos + 2 > end:
            raise StructureError("the JPEG ends inside a segment header (truncated)")
        (length,) = struct.unpack_from(">H", raw, pos)
        if length < 2 or pos + length > end:
            raise StructureError(f"JPEG segment 0xFF{marker:02X} at byte {pos - 2} has an invalid length {length}")
        body = raw[pos + 2:pos + length]
        pos += length
        if marker in JPEG_FRAMES or marker in _JPEG_OTHER_FRAMES:
            if marker not in JPEG_FRAMES:
                raise StructureError(f"the JPEG uses frame type 0xFF{marker:02X} (lossless, hierarchical or "
                                     "arithmetic coding); use a baseline or progressive JPEG")
            if frame is not None:
                raise StructureError("the JPEG has more than one frame header")
            frame = _frame(marker, body)
        elif marker == 0xDA:   # SOS: a scan header, then entropy-coded data up to the next marker
            if frame is None:
                raise StructureError("the JPEG has a scan before its frame header")
            _scan(body, frame)
            scans += 1
            if scans > max_scans:
                raise StructureError(f"the JPEG has more than {max_scans} scans (a progressive \"scan bomb\")")
            found = _SEGMENT_END.search(raw, pos)
            if found is None:
                raise StructureError("the JPEG ends inside a scan's data (truncated)")
            pos = found.start()
        elif marker == 0xDC:
            raise StructureError("the JPEG defines its height after the first scan (DNL); it is not supported")
    if frame is None or not scans:
        raise StructureError("the JPEG has no frame header or no scan")
    kind, width, height, _ = frame
    return ImageStructure("JPEG", width, height, scans=scans, progressive=kind == 0xC2)


def _frame(marker: int, body: bytes) -> tuple[int, int, int, frozenset[int]]:
    if len(body) < 6:
        raise StructureError("the JPEG's frame header is too short")
    precision, height, width, count = struct.unpack_from(">BHHB", body)
    if precision != 8:
        raise StructureError(f"the JPEG has {precision}-bit samples; card images use 8")
    if not width or not height:
        raise StructureError("the JPEG's frame header declares a zero width or height")
    if count not in (1, 3, 4) or len(body) != 6 + 3 * count:
        raise StructureError(f"the JPEG's frame header has {count} components or a wrong length")
    ids = frozenset(body[6 + 3 * i] for i in range(count))
    for i in range(count):
        sampling = body[7 + 3 * i]
        if not (1 <= sampling >> 4 <= 4 and 1 <= sampling & 15 <= 4):
            raise StructureError("the JPEG's frame header has an invalid sampling factor")
    return marker, width, height, ids


def _scan(body: bytes, frame: tuple[int, int, int, frozenset[int]]) -> None:
    if not body or not 1 <= body[0] <= 4 or len(body) != 4 + 2 * body[0]:
        raise StructureError("the JPEG has a malformed scan header")
    count = body[0]
    if any(body[1 + 2 * i] not in frame[3] for i in range(count)):
        raise StructureError("a JPEG scan names a component its frame does not have")
    ss, se, approx = body[1 + 2 * count], body[2 + 2 * count], body[3 + 2 * count]
    if frame[0] == 0xC2 and (ss > se or se > 63 or (ss == 0 and se != 0) or approx >> 4 > 13
                             or approx & 15 > 13):
        raise StructureError("a progressive JPEG scan has invalid spectral or approximation parameters")
