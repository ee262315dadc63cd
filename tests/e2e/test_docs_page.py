"""`/docs` in real Chromium: Swagger UI renders the OpenAPI 3.1 document, and "Try it out" works with a token."""
from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: F401  (kept importable from here)
from tests.support import Daemon, job_payload

pytestmark = [pytest.mark.e2e, pytest.mark.browser]




def test_docs_render_the_31_document_and_try_it_out_works_with_a_token(daemon: Daemon, browser: Browser) -> None:
    with daemon.client(daemon.enrollment) as c:
        assert c.post("/api/v1/jobs", json=job_payload(3)).status_code == 201
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    offline: list[str] = []
    # the print PC may be offline: every asset must come from the daemon itself
    context.route("**/*", lambda route: (offline.append(route.request.url), route.abort())
                  if not route.request.url.startswith(daemon.url) else route.continue_())
    page = context.new_page()
    try:
        page.goto(daemon.url + "/docs")
        expect(page.locator(".information-container .title")).to_contain_text("printd", timeout=20_000)
        expect(page.get_by_text("Unable to render this definition")).to_have_count(0)
        op = page.locator("#operations-jobs-list_jobs_api_v1_jobs_get")
        expect(op).to_be_visible()
        # Authorize with the bearer token (the document's bearerAuth scheme)
        page.get_by_role("button", name="Authorize").first.click()
        dialog = page.locator(".dialog-ux")
        bearer = dialog.locator(".auth-container").filter(has_text="bearerAuth")
        bearer.locator("input").first.fill(daemon.enrollment)
        bearer.locator("button.authorize").click()
        expect(bearer.get_by_text("Authorized", exact=True)).to_be_visible()
        bearer.locator("button", has_text="Close").click()
        # Try it out: GET /api/v1/jobs answers 200 with the job just submitted
        op.locator(".opblock-summary").click()
        op.get_by_role("button", name="Try it out").click()
        op.get_by_role("button", name="Execute").click()
        status = op.locator(".live-responses-table .response .response-col_status").first
        expect(status).to_have_text("200", timeout=20_000)
        expect(op.locator(".live-responses-table .microlight").first).to_contain_text("TEST-000003")
        # the typed schema is shown (the Job model), not an untyped object
        expect(page.get_by_role("button", name="JobStateChanged", exact=True)).to_be_attached()
        assert offline == [], f"/docs tried to load from outside the daemon: {offline}"
    finally:
        context.close()
