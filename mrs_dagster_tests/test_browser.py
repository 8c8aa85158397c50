"""The dashboard and the review console in headless Chromium, served by `mrs serve` itself."""

import re
import subprocess
import sys

import pytest
from dagster import AssetSelection

from mrs_dagster.lake import Lake
from mrs_dagster.synthetic import write_world
from mrs_dagster_tests.browsing import free_port, wait_for_http
from mrs_dagster_tests.conftest import materialize_all
from mrs_dagster_tests.test_serve import assign

# One run world and one server for the module: its tests share a worker (make test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("browser")


@pytest.fixture(scope="module")
def world_dir(tiny_world, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("browser") / "data"
    write_world(tiny_world, data_dir)
    return data_dir


@pytest.fixture(scope="module")
def served(world_dir):
    """A run world, two of its events assigned to AN-1, and `mrs serve` over it on a free port."""
    materialize_all(world_dir, selection=AssetSelection.all())
    lake = Lake(world_dir / "lake")
    assign(lake, lake.read("minority_events").sort_values("event_id").iloc[:2], "AN-1")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "mrs_dagster.cli", "serve", "--data-dir", str(world_dir),
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/review")
        yield f"http://127.0.0.1:{port}", lake
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_dashboard_renders_every_chart_and_leads_with_the_top_insight(served, browser):
    base, lake = served
    page = browser.new_page(viewport={"width": 1366, "height": 768})  # a laptop screen
    page.goto(f"{base}/")
    assert page.url == f"{base}/dashboard/"
    images = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.getAttribute('src'), i.complete, "
                                       "i.naturalWidth, i.getAttribute('alt')])")
    assert len(images) >= 3  # at least one event chart, events by cause, the heat map
    broken = [src for src, complete, width, _ in images if not (complete and width > 0)]
    assert broken == []
    assert all(alt and len(alt) > 40 for *_, alt in images)
    top = lake.read("insights").sort_values("rank").iloc[0]
    first = page.locator("tr.finding-row").first
    assert first.get_attribute("data-event-id") == top["event_id"]
    assert first.locator(".finding-text").inner_text() == top["finding"]
    assert page.locator("#health td.met, #health td.breach").count() >= 4
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0  # nothing wider than a laptop screen
    pdf = page.pdf(format="A4")  # what "print to PDF" gives
    assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page\b", pdf)) >= 2


def test_an_analyst_confirms_one_event_and_changes_anothers_cause_and_hydrate_shows_both(served, browser, world_dir):
    base, lake = served
    page = browser.new_page()
    page.goto(f"{base}/review/AN-1")
    cards = page.locator("article.card")
    assert cards.count() == 2
    confirmed, recaused = (cards.nth(i).get_attribute("data-event-id") for i in range(2))
    current = page.locator(f"#event-{recaused} select[name=cause]").input_value()
    new_cause = "local_event" if current != "local_event" else "weather"

    page.locator(f"#event-{confirmed}").get_by_role("button", name="Confirm").click()
    page.wait_for_url("**/review/AN-1?recorded=*")
    assert "Recorded edit" in page.locator(".flash").inner_text()
    page.locator(f"#event-{recaused} select[name=cause]").select_option(new_cause)
    page.locator(f"#event-{recaused} input[aria-label='note on the cause']").fill("the town fair")
    page.locator(f"#event-{recaused}").get_by_role("button", name="Change cause").click()
    page.wait_for_url("**/review/AN-1?recorded=*")
    assert f"cause {new_cause} (by ui)" in page.locator(f"#event-{recaused} .decision").inner_text()

    materialize_all(world_dir, selection=["minority_reports", "minority_events"])  # the next hydrate
    events = lake.read("minority_events").set_index("event_id")
    assert events.loc[confirmed, "verdict"] == "anomaly" and events.loc[confirmed, "source_used_review"] == "ui"
    assert events.loc[recaused, "cause"] == new_cause and events.loc[recaused, "source_used_cause"] == "ui"
    assert events.loc[recaused, "note"] == "the town fair" and events.loc[recaused, "source_used_review"] == "ui"
