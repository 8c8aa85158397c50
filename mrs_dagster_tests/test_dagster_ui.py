"""The checks and sensors as the Dagster UI shows them: a real webserver over a real instance,
queried through its GraphQL API and looked at in headless Chromium."""

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request

import pytest
from dagster import DagsterInstance

from mrs_dagster.definitions import MAIN_JOB, build_definitions
from mrs_dagster.resources import PROJECT_ROOT
from mrs_dagster_tests.browsing import free_port

pytestmark = pytest.mark.world("tiny_world")  # see conftest.world_dir

CHECKS_QUERY = """{ assetNodes { assetKey { path } assetChecksOrError { ... on AssetChecks { checks {
  name blocking executionForLatestMaterialization { status evaluation { success } } } } } } }"""
AUTOMATION_QUERY = """{ repositoriesOrError { ... on RepositoryConnection { nodes { name
  sensors { name sensorState { status } } schedules { name } } } } }"""


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


def test_the_ui_lists_every_check_with_its_last_result_and_the_sensors_and_shows_the_graph(world_dir, tmp_path,
                                                                                           browser):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "MRS_DATA_DIR": str(world_dir)}
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        with DagsterInstance.get() as instance:
            assert build_definitions(world_dir).resolve_job_def(MAIN_JOB).execute_in_process(instance=instance).success
    finally:
        del os.environ["DAGSTER_HOME"]

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "dagster_webserver", "-h", "127.0.0.1", "-p", str(port),
         "-w", str(PROJECT_ROOT / "workspace.yaml")],
        env=env, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                nodes = graphql(port, CHECKS_QUERY)["assetNodes"]
                if nodes:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the webserver did not come up"
            time.sleep(1)
        checks = {
            (".".join(node["assetKey"]["path"]), check["name"]): check
            for node in nodes for check in node["assetChecksOrError"].get("checks", [])
        }
        assert checks[("minority_reports_detected_log", "idempotent_key_unique")]["blocking"]
        assert not checks[("minority_reports_detected_log", "data_lag")]["blocking"]
        for key in [("minority_reports_detected_log", "contract"), ("minority_reports_finalised_log", "reports_not_degraded"),
                    ("unified_sales_data_errors", "error_rate"), ("data_gaps", "no_data_gaps")]:
            latest = checks[key]["executionForLatestMaterialization"]
            assert latest["status"] == "SUCCEEDED" and latest["evaluation"]["success"], key
        assert len(checks) >= 50
        repositories = graphql(port, AUTOMATION_QUERY)["repositoriesOrError"]["nodes"]
        sensors = {s["name"] for repo in repositories for s in repo["sensors"]}
        assert {"new_delivery_sensor", "corrected_feed_sensor", "model_recall_sensor", "cluster_recall_sensor",
                "evidence_recall_sensor", "slo_alerts_sensor", "cohort_reevaluation_sensor"} <= sensors
        look_at_the_ui(browser, f"http://127.0.0.1:{port}")
    finally:
        server.terminate()
        server.wait(timeout=30)


def look_at_the_ui(browser, base: str) -> None:
    """The asset graph page draws our assets; an asset's page lists its checks with their results."""
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"{base}/locations/mrs/asset-groups/insights")
    for asset in ("insights", "segment_trends", "dashboard", "minority_events"):  # its nodes and what they read
        page.get_by_text(asset, exact=True).first.wait_for(timeout=60_000)
    page.goto(f"{base}/assets/minority_reports_detected_log?view=checks")
    page.get_by_text("Checks (5)").wait_for(timeout=60_000)
    checks = ["contract", "data_lag", "detection_on_models", "idempotent_key_unique", "required_columns_not_null"]
    # The count is drawn before the list under it: on a loaded machine the rows came later.
    page.wait_for_function("names => names.every(name => document.body.innerText.includes(name))", arg=checks,
                           timeout=60_000)
    body = page.inner_text("body")
    for check in checks:
        assert check in body, check
    assert "This is a blocking asset check." in body
