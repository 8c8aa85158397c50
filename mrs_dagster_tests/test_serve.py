"""The review console in process (Starlette's test client) over a real lake after a real run:
what it lists, what a decision writes, and what it refuses."""

import re

import pandas as pd
import pytest
from starlette.testclient import TestClient

from mrs_dagster.hydration import hydrate
from mrs_dagster.lake import Lake
from mrs_dagster.serve import NOTE_LIMIT, create_app
from mrs_dagster.synthetic import write_world
from mrs_dagster_tests.conftest import materialize_all

RUN_ID = "demo-run-001"
# One run world for the module: its tests share a worker (make test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("serve")


def assign(lake: Lake, events: pd.DataFrame, analyst_id: str) -> None:
    """Assignments as `mrs cohort assign` writes them."""
    lake.append("event_assignments_log", pd.DataFrame({
        "event_id": events["event_id"], "store_id": events["store_id"], "cohort_id": "COH-1", "analyst_id": analyst_id,
        "strategy": "round_robin", "job_id": None, "written_at": pd.Timestamp.now(tz="UTC"), "run_id": RUN_ID}))


@pytest.fixture(scope="module")
def console(tiny_world, tmp_path_factory):
    """A run tiny world with two events assigned to AN-1 and one to AN-2, and a client of its console."""
    data_dir = tmp_path_factory.mktemp("serve") / "data"
    write_world(tiny_world, data_dir)
    materialize_all(data_dir)
    lake = Lake(data_dir / "lake")
    events = lake.read("minority_events").sort_values("event_id")
    assign(lake, events.iloc[:2], "AN-1")
    assign(lake, events.iloc[2:3], "AN-2")
    client = TestClient(create_app(data_dir), base_url="http://127.0.0.1")
    return client, lake, events["event_id"].tolist()


def csrf_token(client: TestClient, analyst_id: str = "AN-1") -> str:
    page = client.get(f"/review/{analyst_id}")
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text).group(1)


def edits(lake: Lake) -> pd.DataFrame:
    return lake.read("user_minority_events_edits_log")


def test_an_analyst_sees_their_events_with_chart_evidence_and_the_machines_proposal(console):
    client, _, event_ids = console
    page = client.get("/review/AN-1")
    assert page.status_code == 200
    shown = re.findall(r'<article class="card" id="event-(\w+)"', page.text)
    assert sorted(shown) == event_ids[:2]  # not AN-2's event
    assert page.text.count("Machine proposal:") == 2 and "<th>evidence</th>" in page.text
    chart = client.get(f"/review/chart/{event_ids[0]}.png")
    assert chart.status_code == 200 and chart.headers["content-type"] == "image/png"
    assert chart.content.startswith(b"\x89PNG")
    assert client.get("/review/chart/no-such-event.png").status_code == 404
    assert client.get("/dashboard/%2e%2e/%2e%2e/lake/catalog.db").status_code == 404  # nothing outside the site
    listing = client.get("/review").text
    assert '<a href="/review/AN-1">AN-1</a>' in listing and "AN-4" not in listing  # AN-4 is inactive
    assert client.get("/review/AN-4").status_code == 404


@pytest.mark.parametrize("form, status, reason", [
    ({"action": "confirm"}, 403, "CSRF token"),
    ({"action": "confirm", "csrf_token": "0" * 64}, 403, "CSRF token"),
    ({"action": "approve"}, 400, "unknown action"),
    ({"action": "cause"}, 400, "choose the cause"),
    ({"action": "cause", "cause": "bribery"}, 400, "unknown cause"),
    ({"action": "confirm", "cause": "weather"}, 400, "only recorded by"),
    ({"action": "confirm", "note": "x" * (NOTE_LIMIT + 1)}, 400, "one line of at most"),
    ({"action": "confirm", "note": "two\nlines"}, 400, "one line of at most"),
])
def test_a_bad_request_says_why_and_writes_nothing(console, form, status, reason):
    client, lake, event_ids = console
    before = len(edits(lake))
    if "csrf_token" not in form and status != 403:
        form = {**form, "csrf_token": csrf_token(client)}
    response = client.post(f"/review/AN-1/events/{event_ids[0]}", data=form, follow_redirects=False)
    assert response.status_code == status and reason in response.text
    assert len(edits(lake)) == before


@pytest.mark.parametrize("analyst_id, event_index, status, reason", [
    ("AN-1", 2, 400, "is not assigned to AN-1"),  # AN-2's event
    ("AN-1", None, 400, "unknown event id"),
    ("AN-9", 0, 404, "no active analyst AN-9"),
    ("AN-4", 0, 404, "no active analyst AN-4"),  # inactive
])
def test_a_decision_on_someone_elses_or_an_unknown_event_or_as_an_unknown_analyst_is_refused(
        console, analyst_id, event_index, status, reason):
    client, lake, event_ids = console
    before = len(edits(lake))
    event_id = event_ids[event_index] if event_index is not None else "no-such-event"
    response = client.post(f"/review/{analyst_id}/events/{event_id}", follow_redirects=False,
                           data={"action": "confirm", "csrf_token": csrf_token(client)})
    assert response.status_code == status and reason in response.text
    assert len(edits(lake)) == before


def test_a_decision_is_an_event_edit_the_page_and_the_next_hydrate_show(console):
    client, lake, event_ids = console
    before = len(edits(lake))
    response = client.post(f"/review/AN-1/events/{event_ids[1]}", follow_redirects=False, data={
        "action": "cause", "cause": "local_event", "note": "the fair was on", "csrf_token": csrf_token(client)})
    assert response.status_code == 303 and response.headers["location"].startswith("/review/AN-1?recorded=")
    written = edits(lake).iloc[before:]
    assert len(written) == 1
    row = written.iloc[0]
    assert (row["event_id"], row["analyst_id"], row["cause_override"], row["note"]) == (
        event_ids[1], "AN-1", "local_event", "the fair was on")
    assert pd.isna(row["verdict"])
    page = client.get(response.headers["location"]).text
    assert "Recorded edit" in page and "cause local_event (by ui), note “the fair was on”" in page
    assert not re.search(r"\bnan\b", page)  # no missing value shown as a number
    _, events = hydrate(lake, RUN_ID)
    event = events.set_index("event_id").loc[event_ids[1]]
    assert event["cause"] == "local_event" and event["source_used_cause"] == "ui" and event["source_used_review"] == "ui"


def test_before_any_run_the_console_says_there_is_no_dashboard_yet(tmp_path):
    client = TestClient(create_app(tmp_path / "data"), base_url="http://127.0.0.1")
    for url in ("/", "/dashboard/", "/dashboard/index.html"):
        response = client.get(url)
        assert response.status_code == 404 and "No dashboard yet" in response.text, url
