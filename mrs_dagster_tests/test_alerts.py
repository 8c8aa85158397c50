"""SLO alerting: one alerts_log row and one webhook post per breach, a clearing row when the check
passes again; through the real sensor over a real Dagster instance and a real HTTP endpoint."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from dagster import DagsterInstance, build_sensor_context

from mrs_dagster.definitions import MAIN_JOB, build_definitions
from mrs_dagster.lake import Lake
from mrs_dagster.resources import AlertWebhook
from mrs_dagster_tests.test_operations import silence

pytestmark = pytest.mark.world("tiny_world")  # see conftest.world_dir


class Webhook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Webhook.received.extend(json.loads(body)["alerts"])
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_breach_raises_one_alert_and_clears_when_the_data_arrives(world_dir):
    server = HTTPServer(("127.0.0.1", 0), Webhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/alerts"
    defs = build_definitions(world_dir)
    instance = DagsterInstance.ephemeral()
    sensor = defs.get_sensor_def("slo_alerts_sensor")
    resources = {"mrs": defs.resources["mrs"], "alert_webhook": AlertWebhook(url=url)}
    cursor = None

    def run():
        assert defs.resolve_job_def(MAIN_JOB).execute_in_process(instance=instance).success

    def evaluate():
        nonlocal cursor
        with build_sensor_context(instance=instance, resources=resources, cursor=cursor) as context:
            result = sensor.evaluate_tick(context)
        cursor = result.cursor or cursor
        return Lake(world_dir / "lake").read("alerts_log").sort_values("written_at", ignore_index=True)

    late = silence(world_dir, "301", "2026-03-10 12:00", "2026-03-10 15:00")
    run()
    raised = evaluate()
    assert list(zip(raised["asset"], raised["check_name"], raised["status"])) == [("data_gaps", "no_data_gaps", "raised")]
    assert json.loads(raised["detail"].iat[0])["stores"] == ["301"]
    assert evaluate().equals(raised), "a breach still open must not raise again"
    assert [a["status"] for a in Webhook.received] == ["raised"]

    late.to_csv(world_dir / "landing" / "sales" / "zz_late_delivery.csv", index=False)  # the data arrives
    run()
    alerts = evaluate()
    assert list(alerts["status"]) == ["raised", "cleared"] and alerts["alert_id"].nunique() == 1
    assert [a["status"] for a in Webhook.received] == ["raised", "cleared"]
    assert len(evaluate()) == 2
    server.shutdown()
