"""The dashboard end to end in headless Chromium (Debian's ``/usr/bin/chromium``, driven by playwright):
log in with a key, open a finished RaDis job, see the loss curve and the tables, download the adapter,
compare it with a supervised job on the same data. The README's screenshots are of real demo jobs
(scripts/dashboard_screenshots.py), not of these tiny-model ones.

A real service runs the jobs (uvicorn API + Celery worker on Postgres/Redis, the tiny model). Without
Chromium or playwright this test fails, saying how to install them: it never skips.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.test_service_e2e import SMALL, Service, service_fixture  # noqa: F401 - registers the module-scoped fixture `service` here
from tests.worker.celery_harness import log_tail

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _finished_jobs(service: Service) -> tuple[dict[str, Any], dict[str, Any]]:
    """A RaDis job and a supervised job on the same data, both run to the end by the worker."""
    c = service.client()
    files = {}
    for name in ("train", "valid"):
        r = c.post(
            "/v1/files",
            files={"file": (f"{name}.jsonl", (service.data / f"{name}.jsonl").read_bytes())},
            data={"purpose": "fine-tune"},
        )
        assert r.status_code == 200, r.text
        files[name] = r.json()["id"]
    jobs = []
    for method in ("radis", "supervised"):
        # min_retention: the retention chart draws it as a line.
        evaluation = {**SMALL["evaluation"], "min_retention": 0.9}
        settings = (
            {**SMALL, "evaluation": evaluation}
            if method == "radis"
            else {"hyperparameters": SMALL["hyperparameters"], "evaluation": evaluation}
        )
        body = {
            "model": str(service.tiny),
            "training_file": files["train"],
            "validation_file": files["valid"],
            "suffix": f"ui-{method}",
            "method": {"type": method, method: settings},
        }
        r = c.post("/v1/fine_tuning/jobs", json=body)
        assert r.status_code == 200, r.text
        jobs.append(r.json())
    deadline = time.time() + 300
    done = []
    for job in jobs:
        while (job := c.get(f"/v1/fine_tuning/jobs/{job['id']}").json())["status"] not in ("succeeded", "failed", "cancelled"):
            assert time.time() < deadline, log_tail(service.log)
            time.sleep(0.5)
        assert job["status"] == "succeeded", job
        done.append(job)
    return done[0], done[1]


def _browser_page(playwright: Any) -> Any:
    assert CHROMIUM.exists(), (
        "Chromium is missing at /usr/bin/chromium: install Debian's package (`apt-get install chromium`; "
        "scripts/bootstrap.sh does it). The dashboard test does not skip."
    )
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
    context = browser.new_context(viewport={"width": 1360, "height": 900}, accept_downloads=True)
    return browser, context.new_page()


def _log_in(page: Page, service: Service, key: str) -> None:
    page.goto(f"{service.base}/dashboard")
    page.fill("#api-key", key)
    page.click("#login button[type=submit]")


def test_login_job_page_download_and_comparison(service: Service, tmp_path: Path) -> None:
    radis_job, supervised_job = _finished_jobs(service)
    c = service.client()
    with sync_playwright() as playwright:
        browser, page = _browser_page(playwright)
        try:
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))

            # A wrong key is refused and the form stays.
            _log_in(page, service, "sk-radis-wrong")
            expect(page.locator("#login-error")).to_contain_text("refused")

            _log_in(page, service, service.key)
            rows = page.locator("#jobs tbody tr")
            expect(rows).to_have_count(2)
            expect(page.locator(f"tr[data-job='{radis_job['id']}']")).to_contain_text("succeeded")
            expect(page.locator(f"tr[data-job='{radis_job['id']}']")).to_contain_text("radis")
            page.click(f"a[href='#/jobs/{radis_job['id']}']")

            # The job page: timeline, loss curve from the streamed metrics events, tables, rationales.
            expect(page.locator("#view")).to_have_attribute("data-stream", "ended")
            expect(page.locator("#loss-curve")).to_have_attribute("data-points", "4")  # 16 pairs / batch 4
            expect(page.locator("#loss-curve path.line")).to_have_count(1)
            for stage in ("generating_rationales", "training", "evaluating", "exporting"):
                expect(page.locator(f"#timeline li[data-stage='{stage}']")).to_have_count(1)
            report = c.get(f"/v1/fine_tuning/jobs/{radis_job['id']}/report").json()
            bleu = page.locator("table.scores tr[data-metric='bleu'] td")
            expect(bleu.nth(1)).to_have_text(f"{report['translation']['bleu']['base']:.2f}")
            expect(bleu.nth(2)).to_have_text(f"{report['translation']['bleu']['tuned']:.2f}")
            expect(page.locator("table.scores tr[data-metric='chrf']")).to_have_count(1)
            iv = report["translation"]["chrf"]["interval"]
            expect(page.locator("table.scores tr[data-metric='chrf'] td.interval")).to_contain_text(iv["verdict"])
            expect(page.locator("#retention-intervals li[data-benchmark='ifeval']")).to_contain_text(
                report["retention"]["benchmarks"]["ifeval"]["interval"]["verdict"]
            )
            expect(page.locator("table.scores tr[data-metric='comet']")).to_contain_text("not available")
            expect(page.locator("svg#retention line.base-line")).to_have_count(1)
            expect(page.locator("svg#retention #min-retention")).to_have_count(1)
            expect(page.locator("#job")).not_to_contain_text("null")
            assert page.locator("svg#retention .label").count() == len(report["retention"]["benchmarks"]) + 1  # + overall
            rationales = c.get(f"/v1/fine_tuning/jobs/{radis_job['id']}/rationales", params={"limit": 100}).json()["data"]
            expect(page.locator("#rationales tbody tr")).to_have_count(len(rationales))
            expect(page.locator("#rationales tbody tr").first).to_contain_text(rationales[0]["reference"])
            expect(page.locator("#checkpoints tbody tr")).to_have_count(1)
            page.screenshot(path=str(tmp_path / "dashboard-job.png"), full_page=True)  # docs/: real jobs

            # The adapter download: the same bytes the API serves, checked in the page against the sha256 header.
            with page.expect_download() as info:
                page.click("#download-adapter")
            saved = tmp_path / info.value.suggested_filename
            info.value.save_as(saved)
            served = c.get(f"/v1/fine_tuning/jobs/{radis_job['id']}/adapter")
            assert hashlib.sha256(saved.read_bytes()).hexdigest() == served.headers["x-content-sha256"]
            expect(page.locator("#download-status")).to_contain_text("verified")

            # The comparison of radis and supervised on the same data.
            page.goto(f"{service.base}/dashboard#/compare/{radis_job['id']}/{supervised_job['id']}")
            expect(page.locator("#compare-table")).to_contain_text("BLEU")
            expect(page.locator("#compare-table")).to_contain_text("chrF++ Δ, 95 % interval")
            expect(page.locator("#compare-table")).to_contain_text("ifeval Δ, 95 % interval")
            expect(page.locator("#compare .card")).to_have_count(2)
            expect(page.locator("#compare-loss path.line")).to_have_count(2)
            expect(page.locator("#compare svg#retention")).to_have_count(2)
            page.screenshot(path=str(tmp_path / "dashboard-compare.png"), full_page=True)

            # Another project's key sees none of these jobs.
            page.click("#logout")
            _log_in(page, service, service.other_key)
            expect(page.locator("#view")).to_contain_text("No jobs yet")

            assert not errors, errors
            assert all(url.startswith(service.base) for url in requests), [u for u in requests if not u.startswith(service.base)]
        finally:
            browser.close()


def test_the_page_itself_is_public_and_holds_no_data(service: Service) -> None:
    page = httpx.get(f"{service.base}/dashboard")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for asset in ("app.js", "app.css"):
        assert httpx.get(f"{service.base}/dashboard/static/{asset}").status_code == 200
    # No external resource: the page works offline.
    assert (
        "http" not in page.text.replace(service.base, "")
        and "//" not in httpx.get(f"{service.base}/dashboard/static/app.css").text
    )
    assert httpx.get(f"{service.base}/v1/fine_tuning/jobs").status_code == 401
