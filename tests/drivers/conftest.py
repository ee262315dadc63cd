"""Fixtures for driver tests: the private CUPS station (see tests/conftest_cups.py)."""
from __future__ import annotations

from tests.conftest_cups import cups_harness, cups_station  # noqa: F401  (registers the fixtures)
