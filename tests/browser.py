"""Real Chromium for the page tests: Debian's `/usr/bin/chromium` through Playwright (never a browser
Playwright downloads). Missing Chromium fails the test; the test command installs it.

Test modules take the `browser` fixture with `from tests.browser import browser  # noqa: F401`.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
#: axe-core, installed by scripts/install-test-deps (npm install --prefix /opt/printd-test/axe axe-core@4)
AXE = Path("/opt/printd-test/axe/node_modules/axe-core/axe.min.js")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                 "--disable-dev-shm-usage"]


def launch(p: Playwright) -> Browser:
    """Headless Debian Chromium, or a failure saying what to install."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the page tests need Debian's Chromium "
                    "(apt-get install -y --no-install-recommends chromium); they never download a browser")
    return p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)


#: uncaught script errors of every page in every browser context of the running test (see `browser`)
SCRIPT_ERRORS: list[str] = []


def _watched(b: Browser) -> Browser:
    """Every context `b` makes reports its pages' uncaught script errors into SCRIPT_ERRORS."""
    make = b.new_context

    def new_context(**kwargs: Any) -> BrowserContext:
        ctx = make(**kwargs)
        ctx.on("weberror", lambda e: SCRIPT_ERRORS.append(f"{e.page.url if e.page else '?'}: {e.error}"))
        return ctx

    b.new_context = new_context  # type: ignore[method-assign]
    return b


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = _watched(launch(p))
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(autouse=True)
def no_uncaught_script_errors() -> Iterator[None]:
    """A page test fails when any page it opened threw: an error there is a broken page for the operator."""
    SCRIPT_ERRORS.clear()
    yield
    found = list(SCRIPT_ERRORS)
    SCRIPT_ERRORS.clear()
    assert found == [], f"a page threw: {found}"


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """What axe-core finds wrong on the page as shown (the context must bypass CSP to inject it)."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run scripts/install-test-deps (npm install axe-core@4)")
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate("""async () => {
        const r = await axe.run(document);
        return { passes: r.passes.length, violations: r.violations.map((v) => ({
          id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')) })) };
      }""")
    assert result["passes"] > 10, result   # axe really looked at the page
    violations: list[dict[str, Any]] = result["violations"]
    return violations
