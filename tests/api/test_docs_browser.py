"""/docs in headless Chromium: Swagger UI renders every operation of the OpenAPI 3.1 document from the
API's own files, with no request leaving the origin and no Content-Security-Policy violation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard.test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS
from tests.live_api import live_api

pytestmark = pytest.mark.slow


def test_swagger_ui_renders_the_document_offline(make_pg_database: Callable[..., str], tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with live_api(make_pg_database, tmp_path, redis_db=13) as api, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            requested: list[str] = []
            problems: list[str] = []
            page.on("request", lambda request: requested.append(request.url))
            page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(f"{api.base}/docs")
            page.wait_for_selector(".opblock-summary-path", timeout=60_000)
            paths: list[Any] = page.eval_on_selector_all(".opblock-summary-path", "nodes => nodes.map(n => n.textContent)")
            title = page.text_content(".info .title") or ""
        finally:
            browser.close()
    assert "RaDis fine-tuning service" in title
    assert len(paths) >= 20 and any("/v1/files" in p for p in paths) and any("events/stream" in p for p in paths)
    assert all(url.startswith(api.base) for url in requested), [u for u in requested if not u.startswith(api.base)]
    assert not problems, problems
