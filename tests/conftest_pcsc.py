"""One private pcscd per test session (libpcsclite reads PCSCLITE_CSOCK_NAME once per process, so the
socket path must stay the same; the daemon itself may be stopped and started to unplug the reader)."""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.pcsc_harness import Pcscd


@pytest.fixture(scope="session")
def pcscd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pcscd]:
    daemon = Pcscd(tmp_path_factory.mktemp("pcsc")).start()
    os.environ.update(daemon.env)
    try:
        yield daemon
    finally:
        daemon.stop()
