"""Real Chromium for the page tests: Debian's `/usr/bin/chromium` through Playwright (never a browser
Playwright downloads). Missing Chromium fails the test; the test command installs it.

Test modules take the `browser` fixture with `from tests.browser import browser  # noqa: F401`.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                 "--disable-dev-shm-usage"]


def launch(p: Playwright) -> Browser:
    """Headless Debian Chromium, or a failure saying what to install."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the page tests need Debian's Chromium "
                    "(apt-get install -y --no-install-recommends chromium); they never download a browser")
    return p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = launch(p)
        try:
            yield b
        finally:
            b.close()
