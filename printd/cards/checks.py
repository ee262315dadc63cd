"""Checks on submitted card images: declared type, real decode, CR80 shape, size limits, no bombs."""
from __future__ import annotations

import base64
import binascii
import io
import warnings

from PIL import Image, UnidentifiedImageError

from printd.cards.structure import StructureError, read_structure
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


def decode_card_image(content_type: object, data: object, field: str) -> bytes:
    """Return the image bytes after every check, or raise the contract's error."""
    if content_type not in FORMATS:
        raise UnsupportedMedia(f"{field}.content_type must be image/png or image/jpeg, not {str(content_type)[:40]!r}",
                               code="unsupported_image_type", field=f"{field}.content_type")
    if not isinstance(data, str) or not data:
        raise Invalid(f"{field}.data must be the image as base64", code="invalid_image", field=f"{field}.data")
    if len(data) > (MAX_BYTES * 4) // 3 + 8:
        raise TooLarge(f"{field} is larger than {MAX_BYTES // (1024 * 1024)} MiB", code="image_too_large",
                       field=f"{field}.data")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid(f"{field}.data is not valid base64", code="invalid_image", field=f"{field}.data") from None
    if len(raw) > MAX_BYTES:
        raise TooLarge(f"{field} is larger than {MAX_BYTES // (1024 * 1024)} MiB", code="image_too_large",
                       field=f"{field}.data")
    expected = FORMATS[str(content_type)]
    # the container first, without decoding a pixel: a malformed file, or one whose decode would cost
    # far more than any card's (the progressive-JPEG "scan bomb": thousands of scans, ~75 s of CPU), is
    # refused here, before Pillow is asked to decode it
    try:
        structure = read_structure(raw, max_scans=MAX_SCANS)
    except StructureError as exc:
        raise Invalid(f"{field} is not a valid PNG or JPEG: {exc}", code="invalid_image",
                      field=f"{field}.data") from None
    if structure.width > MAX_SIDE or structure.height > MAX_SIDE:
        raise Invalid(f"{field} is {structure.width}x{structure.height} px; at most {MAX_SIDE} px a side",
                      code="image_too_large_dimensions", field=f"{field}.data")
    if structure.decode_work > MAX_DECODE_WORK:
        raise Invalid(f"{field} would take {structure.scans} passes over {structure.width}x{structure.height} px "
                      f"to decode; at most {MAX_DECODE_WORK // structure.pixels} for an image this size (re-encode "
                      "it as a baseline JPEG or with a standard progression)", code="invalid_image",
                      field=f"{field}.data")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(raw))
            fmt = img.format
            width, height = img.size
            # dimensions come from the header: refuse a bomb before decoding a single pixel
            if width > MAX_SIDE or height > MAX_SIDE:
                raise Invalid(f"{field} is {width}x{height} px; at most {MAX_SIDE} px a side",
                              code="image_too_large_dimensions", field=f"{field}.data")
            if fmt != expected:
                raise Invalid(f"{field} is declared {content_type} but the data is {fmt or 'not an image'}",
                              code="invalid_image", field=f"{field}.data")
            img.load()
    except Invalid:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Invalid(f"{field} declares more pixels than any card image has (decompression bomb refused)",
                      code="image_too_large_dimensions", field=f"{field}.data") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise Invalid(f"{field} does not decode as {content_type}: {type(exc).__name__}", code="invalid_image",
                      field=f"{field}.data") from None
    if min(width, height) < MIN_SIDE:
        raise Invalid(f"{field} is {width}x{height} px; at least {MIN_SIDE} px a side", code="invalid_image",
                      field=f"{field}.data")
    ratio = max(width, height) / min(width, height)
    if abs(ratio - CR80_RATIO) / CR80_RATIO > RATIO_TOLERANCE:
        raise Invalid(f"{field} is {width}x{height} px (ratio {ratio:.3f}); a CR80 card needs about "
                      f"{CR80_RATIO:.3f} (e.g. 1012x638 px at 300 dpi)", code="invalid_aspect", field=f"{field}.data")
    return raw
