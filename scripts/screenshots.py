"""`make screenshots`: the README's pictures of the dashboard, the review console and the Dagster
asset graph, taken in headless Chromium from the demo world (run `make demo` first)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

from mrs_dagster.cli import main as mrs
from mrs_dagster.lake import Lake
from mrs_dagster.resources import PROJECT_ROOT, default_data_dir
from mrs_dagster_tests.browsing import CHROMIUM, CHROMIUM_ARGS, free_port, wait_for_http

OUT = PROJECT_ROOT / "docs" / "screenshots"


def serve(argv: list[str], url: str) -> subprocess.Popen:
    server = subprocess.Popen(argv, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_http(url, timeout=180)
    return server


def main() -> int:
    data_dir = Path(default_data_dir()).resolve()
    if not (Lake(data_dir / "lake").dashboard_dir / "index.html").is_file():
        print(f"no dashboard in {data_dir}: run `make demo` first", file=sys.stderr)
        return 2
    mrs(["cohort", "assign", "COH-2", "--analysts", "AN-1,AN-2", "--data-dir", str(data_dir)])  # someone to review
    console, dagster = free_port(), free_port()
    servers = [
        serve([sys.executable, "-m", "mrs_dagster.cli", "serve", "--data-dir", str(data_dir), "--port", str(console)],
              f"http://127.0.0.1:{console}/review"),
        serve([sys.executable, "-m", "dagster_webserver", "-h", "127.0.0.1", "-p", str(dagster), "-w", "workspace.yaml"],
              f"http://127.0.0.1:{dagster}/server_info"),
    ]
    try:
        OUT.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.goto(f"http://127.0.0.1:{console}/dashboard/")
            page.screenshot(path=OUT / "dashboard.png", full_page=True)
            listing = urllib.request.urlopen(f"http://127.0.0.1:{console}/review").read().decode()
            analyst = re.search(r'<a href="/review/([\w-]+)">[\w-]+</a></td><td>[^<]*</td>\s*<td class="num">[1-9]', listing)
            page.goto(f"http://127.0.0.1:{console}/review/{analyst.group(1) if analyst else 'AN-1'}")
            page.screenshot(path=OUT / "review.png", full_page=True)
            page.goto(f"http://127.0.0.1:{dagster}/locations/mrs/asset-groups/insights")
            page.get_by_text("segment_trends", exact=True).first.wait_for(timeout=120_000)
            page.wait_for_timeout(3000)  # the graph's layout settles, and Dagster's once-per-instance prompt shows
            skip = page.get_by_role("button", name="Skip")
            if skip.is_visible():
                skip.click()
            page.screenshot(path=OUT / "dagster-asset-graph.png")
            browser.close()
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
    print(f"wrote {', '.join(sorted(p.name for p in OUT.glob('*.png')))} to {OUT}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / ".dagster_home"))
    raise SystemExit(main())
