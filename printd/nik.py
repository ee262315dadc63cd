"""NIK (Nomor Induk Kependudukan) plausibility: 16 digits = region (6), birth date (6), serial (4).

The birth day carries +40 for women. We check what can be checked offline: a known province,
a real calendar date, and a serial above zero. We cannot know whether the person exists.
"""
from __future__ import annotations

from printd.errors import Invalid

#: Province codes (the NIK's first two digits), incl. the Papua provinces formed in 2022.
PROVINCES = frozenset({
    11, 12, 13, 14, 15, 16, 17, 18, 19, 21,
    31, 32, 33, 34, 35, 36,
    51, 52, 53,
    61, 62, 63, 64, 65,
    71, 72, 73, 74, 75, 76,
    81, 82,
    91, 92, 93, 94, 95, 96, 97,
})
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # Feb 29 allowed: the century is unknown


def validate_nik(nik: object, field: str = "nik") -> str:
    """Return the NIK if plausible, else raise Invalid with a message a person can act on."""
    if not isinstance(nik, str) or len(nik) != 16 or not nik.isascii() or not nik.isdigit():
        raise Invalid("NIK must be exactly 16 digits", code="invalid_nik", field=field)
    if int(nik[0:2]) not in PROVINCES:
        raise Invalid(f"NIK starts with {nik[0:2]}, which is not an Indonesian province code",
                      code="invalid_nik", field=field)
    if nik[2:4] == "00" or nik[4:6] == "00":
        raise Invalid("NIK regency and district codes (digits 3-6) cannot be 00", code="invalid_nik", field=field)
    day, month = int(nik[6:8]), int(nik[8:10])
    if day > 40:
        day -= 40  # women
    if not 1 <= month <= 12 or not 1 <= day <= _DAYS_IN_MONTH[month - 1]:
        raise Invalid("NIK digits 7-12 are not a birth date (DDMMYY, +40 on the day for women)",
                      code="invalid_nik", field=field)
    if int(nik[12:16]) == 0:
        raise Invalid("NIK serial (last 4 digits) cannot be 0000", code="invalid_nik", field=field)
    return nik
