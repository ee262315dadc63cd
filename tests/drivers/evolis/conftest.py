"""Every Evolis test runs against both emulator dialects: the 2003 guide's and current firmware's."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from printd.drivers.evolis.emulator import DIALECTS
from tests.drivers.evolis.support import DIALECT


@pytest.fixture(autouse=True, params=DIALECTS)
def dialect(request: pytest.FixtureRequest) -> Iterator[str]:
    """The dialect of every emulator and config the test builds through tests/drivers/evolis/support.py."""
    DIALECT["name"] = request.param
    yield request.param
    DIALECT["name"] = "guide"
