"""Screenshots of the dashboard for the README, taken of real jobs (not the tests' tiny model).

Point it at the data folder of a finished ``radis demo`` (the embedded service's ``service-data``),
name the job to show and, optionally, a second job of the same project to compare it with. It starts
``radis serve`` on that folder, makes a key for the demo's project, opens the dashboard in headless
Chromium (Debian's ``/usr/bin/chromium``, driven by playwright) and writes ``docs/dashboard-job.png``
and ``docs/dashboard-compare.png``.

    .venv/bin/python scripts/dashboard_screenshots.py radis-demo/service-data ftjob-… [ftjob-…]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from radis_cli.demo import free_port, stop_process_group, wait_ready  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
JOB_CLIP = {"x": 0, "y": 0, "width": 1280, "height": 2000}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path, help="the demo's service-data folder")
    parser.add_argument("job", help="the job to show")
    parser.add_argument("compare_with", nargs="?", help="a second job of the same project, for the comparison view")
    parser.add_argument("--project", default="demo")
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    env = {**os.environ, "RADIS_DATA_DIR": str(args.data_dir.resolve())}
    made = subprocess.run(
        [sys.executable, "-m", "radis_cli.main", "keys", "create", "--project", args.project, "--name", "screenshots"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    key = made.stdout.strip().splitlines()[-1]
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "radis_cli.main", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, server)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], headless=True)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{base}/dashboard")
            page.fill("#api-key", key)
            page.click("#login button[type=submit]")
            page.goto(f"{base}/dashboard#/jobs/{args.job}")
            page.wait_for_selector("#rationales, table.scores", timeout=60_000)
            page.wait_for_timeout(1500)  # the loss curve and the charts draw after the results load
            args.out.mkdir(parents=True, exist_ok=True)
            # The page's top: timeline, loss curve, scores with intervals, retention and the first rationales
            # (a full page of a real job lists every rationale and runs to tens of thousands of pixels).
            page.screenshot(path=str(args.out / "dashboard-job.png"), full_page=True, clip=JOB_CLIP)
            print(args.out / "dashboard-job.png")
            if args.compare_with:
                page.goto(f"{base}/dashboard#/compare/{args.job}/{args.compare_with}")
                page.wait_for_selector("#compare-table", timeout=60_000)
                page.wait_for_timeout(1500)
                page.screenshot(path=str(args.out / "dashboard-compare.png"), full_page=True)
                print(args.out / "dashboard-compare.png")
            browser.close()
    finally:
        stop_process_group(server)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
