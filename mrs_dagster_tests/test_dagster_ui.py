"""The checks and sensors as the Dagster UI shows them: a real webserver over a real instance,
queried through its GraphQL API."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from dagster import DagsterInstance

from mrs_dagster.definitions import MAIN_JOB, build_definitions
from mrs_dagster.resources import PROJECT_ROOT

pytestmark = pytest.mark.world("tiny_world")  # see conftest.world_dir

CHECKS_QUERY = """{ assetNodes { assetKey { path } assetChecksOrError { ... on AssetChecks { checks {
  name blocking executionForLatestMaterialization { status evaluation { success } } } } } } }"""
AUTOMATION_QUERY = """{ repositoriesOrError { ... on RepositoryConnection { nodes { name
  sensors { name sensorState { status } } schedules { name } } } } }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


def test_the_ui_lists_every_check_with_its_last_result_and_the_sensors(world_dir, tmp_path):
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
        assert {"corrected_feed_sensor", "model_recall_sensor", "cluster_recall_sensor", "evidence_recall_sensor",
                "slo_alerts_sensor", "cohort_reevaluation_sensor"} <= sensors
    finally:
        server.terminate()
        server.wait(timeout=30)
