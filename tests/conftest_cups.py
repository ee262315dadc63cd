"""Pytest fixtures around the private CUPS of `tests/cups_harness.py`.

Import them into a conftest to use them (pytest registers imported fixtures)::

    from tests.conftest_cups import cups_harness, cups_station  # noqa: F401

- `cups_station` (session): one private cupsd with queues `card1` and `card2`, each on its own fake
  card printer (ippeveprinter). Started once, torn down at the end of the session.
- `cups_harness` (function): the same station, reset before the test: unfinished jobs canceled,
  queues enabled and accepting, printers alive, per-job rules cleared, printers that a rule
  changed restarted. Aim drivers at `cups_harness.server` (or set CUPS_SERVER to it).
- `cups_socket_station` / `cups_socket` (session / function): the same, but the queues are
  `socket://127.0.0.1:PORT` queues with the vendor-style filter and PPD, each on an AppSocket test
  printer (`tests/appsocket_printer.py`): the way HID's HDP5000 driver is installed.

A machine without cupsd/ippeveprinter/dbus makes these fixtures FAIL with the install command:
a CUPS test that silently skips would let the CUPS driver rot unnoticed.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cups_harness import CupsHarness, HarnessError


@pytest.fixture(scope="session")
def cups_station() -> Iterator[CupsHarness]:
    """A private cupsd with queues card1 and card2 on fake card printers, for the whole session."""
    try:
        ctx = CupsHarness.started(("card1", "card2"))
        harness = ctx.__enter__()
    except HarnessError as exc:
        pytest.fail(f"CUPS test harness unavailable: {exc}", pytrace=False)
    try:
        yield harness
    finally:
        ctx.__exit__(None, None, None)


@pytest.fixture(scope="session")
def cups_socket_station() -> Iterator[CupsHarness]:
    """A private cupsd with socket:// queues card1 and card2 on AppSocket test printers, for the session."""
    try:
        ctx = CupsHarness.started(("card1", "card2"), device="socket")
        harness = ctx.__enter__()
    except HarnessError as exc:
        pytest.fail(f"CUPS test harness unavailable: {exc}", pytrace=False)
    try:
        yield harness
    finally:
        ctx.__exit__(None, None, None)


@pytest.fixture
def cups_socket(cups_socket_station: CupsHarness) -> CupsHarness:
    """The session's socket:// CUPS, reset to clean working queues and printers for this test."""
    try:
        cups_socket_station.reset()
    except HarnessError as exc:
        pytest.fail(f"CUPS test harness could not be reset: {exc}", pytrace=False)
    return cups_socket_station


@pytest.fixture
def cups_harness(cups_station: CupsHarness) -> CupsHarness:
    """The session's private CUPS, reset to clean working queues and printers for this test."""
    try:
        cups_station.reset()
    except HarnessError as exc:
        pytest.fail(f"CUPS test harness could not be reset: {exc}", pytrace=False)
    return cups_station
