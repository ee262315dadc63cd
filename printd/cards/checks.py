"""Checks on submitted card images, at submission: declared type, structure, CR80 shape, size and work bounds.

`POST /api/v1/jobs` answers once the job is durable, so these checks read the file's structure only
(printd/cards/structure.py): the declared type must match the magic bytes, a PNG's chunks must all be
whole with the right CRCs up to IEND, a JPEG's markers must run from SOI to EOI. Dimensions and the
work a decoder will do (pixels, progressive scans) are bounded here, before anything is stored, so a
decompression bomb or a scan bomb is refused with 422 and never decoded. Whether the pixels decode is
checked right after acceptance, off the request path (printd/cards/prepare.py); a job whose image does
not decode then ends `failed` with reason `invalid_image` before any blank is touched.
"""
from __future__ import annotations

import binascii

import pybase64

from printd.cards.structure import ImageStructure, StructureError, read_structure, sniff
from printd.errors import Invalid, TooLarge, UnsupportedMedia

MAX_BYTES = 4 * 1024 * 1024
MAX_SIDE = 2048
MIN_SIDE = 100
#: CR80 (ID-1) is 85.60 x 53.98 mm
CR80_RATIO = 85.60 / 53.98
RATIO_TOLERANCE = 0.05
FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG"}
#: progressive scans a card JPEG may have. libjpeg's standard progression makes 10 for colour, 6 for
#: grey; encoders that optimise scans (mozjpeg) stay well under 64. NVIDIA nvImageCodec caps scans at
#: 256 by default against the same attack (NVIMGCODEC_MAX_JPEG_SCANS, citing the cure53 report on
#: libjpeg-turbo); a card needs far fewer.
MAX_SCANS = 64
#: pixels x scans a decode may cost: 24 passes over the largest card image allowed (2048 x 1292); a
#: standard 10-scan progressive JPEG of that size decodes in ~55 ms of CPU here, the bomb in ~75 s
MAX_DECODE_WORK = 24 * MAX_SIDE * 1292


def _invalid(field: str, message: str, code: str = "invalid_image") -> Invalid:
    return Invalid(message, code=code, field=f"{field}.data")


def check_card_image(content_type: object, data: object, field: str) -> bytes:
    """Return the image bytes after every submission check, or raise the contract's error.

    Reads the container only: the cost is the base64 decode and one pass over the bytes (CRCs),
    not a pixel decode.
    """
    if content_type not in FORMATS:
        raise UnsupportedMedia(f"{field}.content_type must be image/png or image/jpeg, not {str(content_type)[:40]!r}",
                               code="unsupported_image_type", field=f"{field}.content_type")
    if not isinstance(data, str) or not data:
        raise _invalid(field, f"{field}.data must be the image as base64")
    if len(data) > (MAX_BYTES * 4) // 3 + 8:
        raise TooLarge(f"{field} is larger than {MAX_BYTES // (1024 * 1024)} MiB", code="image_too_large",
                       field=f"{field}.data")
    try:
        # pybase64: 0.07 ms for both sides of a job against the stdlib's 1.77 ms (docs/benchmarks.md)
        raw = pybase64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(field, f"{field}.data is not valid base64") from None
    if len(raw) > MAX_BYTES:
        raise TooLarge(f"{field} is larger than {MAX_BYTES // (1024 * 1024)} MiB", code="image_too_large",
                       field=f"{field}.data")
    structure = check_structure(raw, str(content_type), field)
    width, height = structure.width, structure.height
    if min(width, height) < MIN_SIDE:
        raise _invalid(field, f"{field} is {width}x{height} px; at least {MIN_SIDE} px a side")
    ratio = max(width, height) / min(width, height)
    if abs(ratio - CR80_RATIO) / CR80_RATIO > RATIO_TOLERANCE:
        raise _invalid(field, f"{field} is {width}x{height} px (ratio {ratio:.3f}); a CR80 card needs about "
                       f"{CR80_RATIO:.3f} (e.g. 1012x638 px at 300 dpi)", code="invalid_aspect")
    return raw


def check_structure(raw: bytes, content_type: str, field: str) -> ImageStructure:
    """Declared type = magic bytes, a well-formed container, dimensions and decode work within bounds."""
    expected = FORMATS[content_type]
    found = sniff(raw)
    if found != expected:
        raise _invalid(field, f"{field} is declared {content_type} but the data is {found or 'not a PNG or JPEG'}")
    try:
        structure = read_structure(raw, max_scans=MAX_SCANS)
    except StructureError as exc:
        raise _invalid(field, f"{field} is not a valid {content_type}: {exc}") from None
    width, height = structure.width, structure.height
    # dimensions come from the header: a decompression bomb is refused before a pixel is decoded
    if width > MAX_SIDE or height > MAX_SIDE:
        raise _invalid(field, f"{field} is {width}x{height} px; at most {MAX_SIDE} px a side",
                       code="image_too_large_dimensions")
    if structure.decode_work > MAX_DECODE_WORK:
        raise _invalid(field, f"{field} would take {structure.scans} passes over {width}x{height} px to decode; "
                       f"at most {MAX_DECODE_WORK // structure.pixels} for an image this size (re-encode it as a "
                       "baseline JPEG or with a standard progression)")
    return structure
