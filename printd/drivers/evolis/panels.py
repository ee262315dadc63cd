"""Card images -> Evolis ribbon panels (`Db;<panel>;<levels>;<data>` payloads).

Geometry (Evolis Card Printers Programming Guide A5013, "General Working" and `Db`): a panel is
always the whole card, 648 dots per line by 1016 lines at 300 dpi, sent line after line. A line
runs across the card's short side, so a landscape card image (1016 x 648 px) is turned a quarter
turn clockwise first, as the open-source Printer::EVOLIS driver does before sending a bitmap.

Pixel packing: a pixel takes 1 bit at 2 levels (K and O panels: 8 pixels a byte, first pixel in
the most significant bit, 1 = a dot is printed) and 5, 6 or 7 bits at 32, 64 or 128 levels (Y, M
and C panels), "concatenated in a way that each bit is useful": a continuous big-endian bit
stream. 648 is a multiple of 8, so every line ends on a byte boundary at every depth.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageOps

#: dots in one printed line (the card's short side)
LINE_DOTS = 648
#: printed lines (the card's long side)
LINES = 1016
#: a landscape card image at 300 dpi, as printd renders cards (width, height)
CARD_PX = (LINES, LINE_DOTS)
#: the guide's panel order; a ribbon's panels pass under the head in this order
PANEL_ORDER = "ymcko"
COLOUR_PANELS = frozenset("ymc")
#: levels -> bits per pixel
LEVEL_BITS: dict[int, int] = {2: 1, 32: 5, 64: 6, 128: 7}
COLOUR_LEVELS = (32, 64, 128)

#: a front pixel whose R, G and B are all at or below this is printed with the black resin panel
#: only (sharp text and barcodes); darker photo areas above it stay in Y, M and C
NEAR_BLACK = 32
#: on K-only sides (the back, monochrome ribbons) a pixel darker than this gets a dot
MONO_THRESHOLD = 128

#: ribbons printd can drive (Pr;<ribbon>) -> (front panels, back panels)
RIBBON_PLANS: dict[str, tuple[str, str]] = {
    "ymcko": ("ymcko", "k"),
    "ymckok": ("ymcko", "k"),
    "ko": ("ko", "k"),
    **dict.fromkeys(("kb", "kw", "kr", "kbl", "kgr", "kgo", "ksi", "ksc"), ("k", "k")),
}


@dataclass(frozen=True)
class PreparedPanels:
    """A card's panels made ahead of printing, and the plan (panels, levels) they were made for."""

    front_panels: str
    back_panels: str
    levels: int
    front: tuple[Panel, ...]
    back: tuple[Panel, ...]


def separate_card(front_png: bytes, back_png: bytes | None, front_panels: str, back_panels: str,
                  levels: int) -> PreparedPanels:
    """Both sides of a card as panels for one ribbon plan."""
    front = tuple(separate_front(front_png, front_panels, levels))
    back = tuple(separate_back(back_png, back_panels)) if back_png is not None else ()
    return PreparedPanels(front_panels, back_panels, levels, front, back)


def panel_size(levels: int) -> int:
    """Bytes in one whole-card panel at `levels` (2 -> 82,296; 128 -> 576,072)."""
    return LINE_DOTS * LINES * LEVEL_BITS[levels] // 8


def plan_for_ribbon(ribbon: str) -> tuple[str, str]:
    """The panels printed on the front and on the back for a ribbon type; ValueError if unsupported."""
    try:
        return RIBBON_PLANS[ribbon.lower()]
    except KeyError:
        known = ", ".join(RIBBON_PLANS)
        raise ValueError(f"ribbon {ribbon!r} is not supported; use one of {known}") from None


@dataclass(frozen=True)
class Panel:
    """One panel ready for `Db`: its letter, its levels and exactly `panel_size(levels)` bytes."""

    name: str
    levels: int
    data: bytes

    def __post_init__(self) -> None:
        if self.name not in PANEL_ORDER:
            raise ValueError(f"unknown panel {self.name!r}")
        if len(self.data) != panel_size(self.levels):
            raise ValueError(f"panel {self.name} at {self.levels} levels needs "
                             f"{panel_size(self.levels)} bytes, got {len(self.data)}")


def load_card_image(png: bytes) -> Image.Image:
    """Decode a card image into RGB, landscape, 1016 x 648 px (alpha composited onto white card stock)."""
    with Image.open(io.BytesIO(png)) as src:
        src.load()
        img: Image.Image = src
        if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
            rgba = img.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            img = Image.alpha_composite(white, rgba)
        img = img.convert("RGB")
    if img.height > img.width:
        # a portrait design is turned to landscape; the printer's geometry is fixed
        img = img.transpose(Image.Transpose.ROTATE_90)
    if img.size != CARD_PX:
        img = img.resize(CARD_PX, Image.Resampling.LANCZOS)
    return img


def to_print_lines(img: Image.Image) -> Image.Image:
    """Turn a landscape card image into the printer's line order: 648 px wide, 1016 lines."""
    return img.transpose(Image.Transpose.ROTATE_270)   # a quarter turn clockwise


def pack_bits(values: bytes, bits: int) -> bytes:
    """Pack one value per byte (each < 2**bits) into a big-endian bit stream.

    Eight values make exactly `bits` bytes, and a line (648 values) a whole number of bytes.
    """
    if len(values) % LINE_DOTS:
        raise ValueError(f"{len(values)} values is not a whole number of {LINE_DOTS}-dot lines")
    if values and max(values) >> bits:
        raise ValueError(f"a value does not fit in {bits} bits")
    s0, s1, s2, s3, s4, s5, s6 = (bits * (7 - i) for i in range(7))
    it = iter(values)
    return b"".join(((v0 << s0) | (v1 << s1) | (v2 << s2) | (v3 << s3) | (v4 << s4) | (v5 << s5) | (v6 << s6)
                     | v7).to_bytes(bits, "big")
                    for v0, v1, v2, v3, v4, v5, v6, v7 in zip(it, it, it, it, it, it, it, it, strict=True))


def unpack_bits(data: bytes, bits: int) -> bytes:
    """The inverse of `pack_bits`: one value per byte (used by the emulator and by tests)."""
    line_bytes = LINE_DOTS * bits // 8
    if len(data) % line_bytes:
        raise ValueError(f"{len(data)} bytes is not a whole number of {line_bytes}-byte lines")
    mask = (1 << bits) - 1
    out = bytearray()
    for start in range(0, len(data), line_bytes):
        acc = int.from_bytes(data[start:start + line_bytes], "big")
        out += bytes((acc >> (bits * (LINE_DOTS - 1 - i))) & mask for i in range(LINE_DOTS))
    return bytes(out)


def _mask_to_panel(name: str, mask: Image.Image) -> Panel:
    """An L image where 255 means "print a dot" -> a 1-bit panel (mode 1 packs MSB first, 1 = 255)."""
    data = mask.convert("1", dither=Image.Dither.NONE).tobytes()
    return Panel(name, 2, data)


def _quantise(channel: Image.Image, levels: int) -> bytes:
    top = levels - 1
    table = [(v * top + 127) // 255 for v in range(256)]
    return channel.point(table).tobytes()


def _dark_mask(lines: Image.Image, threshold: int) -> Image.Image:
    gray = lines.convert("L")
    return gray.point(lambda v: 255 if v < threshold else 0)


def separate_front(png: bytes, panels: str = "ymcko", levels: int = 128, *,
                   near_black: int = NEAR_BLACK) -> list[Panel]:
    """Separate a front image into the panels named in `panels` (in ribbon order).

    Y, M and C are the complements of B, G and R at `levels`; near-black pixels go to K alone
    (and are removed from Y, M and C so text is crisp resin, not a muddy three-colour black);
    O is a full-card overlay. Without colour panels (monochrome ribbons) K takes every dark pixel.
    """
    if levels not in COLOUR_LEVELS:
        raise ValueError(f"colour levels must be one of {COLOUR_LEVELS}, not {levels}")
    lines = to_print_lines(load_card_image(png))
    colour = any(p in COLOUR_PANELS for p in panels)
    red, green, blue = lines.split()
    brightest = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    black = brightest.point(lambda v: 255 if v <= near_black else 0)
    out: list[Panel] = []
    for name in PANEL_ORDER:
        if name not in panels:
            continue
        if name in COLOUR_PANELS:
            source = {"y": blue, "m": green, "c": red}[name]
            ink = ImageOps.invert(source)
            ink = Image.composite(Image.new("L", ink.size, 0), ink, black)
            out.append(Panel(name, levels, pack_bits(_quantise(ink, levels), LEVEL_BITS[levels])))
        elif name == "k":
            out.append(_mask_to_panel("k", black if colour else _dark_mask(lines, MONO_THRESHOLD)))
        else:  # overlay varnish over the whole card
            out.append(Panel("o", 2, b"\xff" * panel_size(2)))
    return out


def separate_back(png: bytes, panels: str = "k") -> list[Panel]:
    """The back side: black resin only, a dot for every dark pixel."""
    if panels != "k":
        raise ValueError("the back side is printed with the K panel only")
    lines = to_print_lines(load_card_image(png))
    return [_mask_to_panel("k", _dark_mask(lines, MONO_THRESHOLD))]
