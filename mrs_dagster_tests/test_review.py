"""Finalisation and hydrate over a real run: provenance, the degradation matrix, edits, as-of."""

from pathlib import Path

import pandas as pd
import pytest

from mrs_dagster.cli import main
from mrs_dagster.contracts import MINORITY_EVENTS, MINORITY_REPORTS_FINALISED_LOG, conform
from mrs_dagster.hydration import hydrate, read_report_logs
from mrs_dagster.lake import Lake
from mrs_dagster.stages.attribution import attribution_unavailable
from mrs_dagster.stages.clustering import unclustered
from mrs_dagster.stages.finalisation import finalise_reports
from mrs_dagster.stages.hydrate import hydrate_events
from mrs_dagster.synthetic import write_world
from mrs_dagster_tests.conftest import materialize_all

RUN = "demo-run-001"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, small_world) -> Path:
    data_dir = tmp_path_factory.mktemp("review") / "data"
    write_world(small_world, data_dir)
    materialize_all(data_dir)
    return data_dir


@pytest.fixture(scope="module")
def healthy(run_dir):
    return read_report_logs(Lake(run_dir / "lake"), RUN)


def test_a_healthy_run_finalises_every_report_with_full_provenance(run_dir, healthy):
    finalised = Lake(run_dir / "lake").read("minority_reports_finalised_log")
    detected = healthy.detected["report_id"].unique()
    assert set(finalised["report_id"]) == set(detected)
    assert not finalised["is_degraded"].any() and set(finalised["report_status"]) == {"proposed"}
    assert set(finalised["source_used_detection"]) == {"detected"}
    assert set(finalised["source_used_cluster"]) == {"clustered"}
    assert set(finalised["source_used_cause"]) == {"attribution"}
    assert set(finalised["source_used_event"]) == {"cohort"}
    assert finalised["source_used_review"].isna().all()


def machine_down(logs, log: str, mode: str):
    """`logs` with one log made unavailable: missing (None), or its stage raising (failure rows)."""
    if mode == "raising" and log == "clustered":
        return logs.__class__(**{**logs.__dict__, "clustered": unclustered(logs.detected, RUN)})
    if mode == "raising" and log == "attribution":
        return logs.__class__(**{**logs.__dict__, "attribution": attribution_unavailable(logs.detected, RUN)})
    return logs.__class__(**{**logs.__dict__, log: None})


MATRIX = [
    ("clustered", "missing", "MRCL_down"),
    ("clustered", "raising", "MRCL_down"),
    ("attribution", "missing", "MRPAL_down"),
    ("attribution", "raising", "MRPAL_down"),
    ("cohorted", "missing", "MRCH_down"),
    ("ended", "missing", "MEEL_down"),
    ("report_edits", "unreadable", "EDITS_down"),
    ("event_edits", "unreadable", "EVENT_EDITS_down"),
]


@pytest.mark.parametrize(("log", "mode", "reason"), MATRIX)
def test_degradation_matrix(healthy, log, mode, reason):
    reports = finalise_reports(machine_down(healthy, log, mode), RUN)
    assert list(conform(MINORITY_REPORTS_FINALISED_LOG, reports).columns) == MINORITY_REPORTS_FINALISED_LOG.columns
    assert set(reports["report_id"]) == set(healthy.detected["report_id"])
    assert reports["is_degraded"].all()
    assert set(reports["degraded_reasons"]) == {reason}
    assert set(reports["report_status"]) == {f"finalisation_degraded_{reason}"}
    expected_null_source = {"MRCL_down": "source_used_cluster", "MRCH_down": "source_used_event"}.get(reason)
    if expected_null_source:
        assert reports[expected_null_source].isna().all()
    if (log, mode) == ("attribution", "missing"):
        assert reports["proposed_cause"].isna().all() and reports["source_used_cause"].isna().all()
    if (log, mode) == ("attribution", "raising"):
        assert set(reports["proposed_cause"]) == {"unknown"} and reports["confidence_score"].isna().all()
    assert reports["source_used_detection"].eq("detected").all()
    cohorted = healthy.cohorted if log != "cohorted" else healthy.cohorted.iloc[:0]
    events = conform(MINORITY_EVENTS, hydrate_events(reports, cohorted, None, RUN))
    assert list(events.columns) == MINORITY_EVENTS.columns


@pytest.mark.parametrize("log", ["clustered", "attribution", "cohorted"])
def test_an_empty_machine_log_reads_as_down_and_empty_edits_logs_as_no_edits(run_dir, log):
    names = {"clustered": "minority_reports_clustered_log", "attribution": "minority_reports_proposed_attribution_log",
             "cohorted": "minority_reports_cohorted_log"}
    lake = Lake(run_dir / "lake")
    lake.catalog.drop_table(("mrs", names[log]))
    lake.append(names[log], lake.read(names[log]))  # recreated, empty for the run
    try:
        logs = read_report_logs(lake, RUN)
        assert getattr(logs, log) is None
        assert logs.report_edits is not None and logs.report_edits.empty
    finally:
        materialize_all(run_dir)


def test_an_edit_shows_in_hydrate_as_ui_and_the_proposal_stays_in_the_logs(run_dir, capsys):
    lake = Lake(run_dir / "lake")
    before_reports, before_events = hydrate(lake, RUN)
    event = before_events.sort_values("impact_estimate").iloc[-1]
    new_cause = "unknown" if event["proposed_cause"] != "unknown" else "weather"
    assert main(["edit", "event", event["event_id"], "--analyst", "AN-1", "--verdict", "not_anomaly",
                 "--cause", new_cause, "--data-dir", str(run_dir)]) == 0
    edit_time = lake.read("user_minority_events_edits_log")["written_at"].max()

    after_reports, after_events = hydrate(lake, RUN)
    row = after_events.set_index("event_id").loc[event["event_id"]]
    assert (row["cause"], row["source_used_cause"], row["verdict"]) == (new_cause, "ui", "not_anomaly")
    assert row["proposed_cause"] == event["proposed_cause"]
    members = after_reports[after_reports["event_id"] == event["event_id"]]
    assert set(members["source_used_cause"]) == {"ui"} and set(members["report_status"]) == {"reviewed"}
    proposals = lake.read("minority_reports_proposed_attribution_log")
    assert set(members["report_id"]) <= set(proposals["report_id"])

    as_of_before = hydrate(lake, RUN, edit_time - pd.Timedelta(microseconds=1))
    as_of_after = hydrate(lake, RUN, edit_time)
    pd.testing.assert_frame_equal(as_of_before[1].reset_index(drop=True), before_events.reset_index(drop=True))
    pd.testing.assert_frame_equal(as_of_before[0].reset_index(drop=True), before_reports.reset_index(drop=True))
    pd.testing.assert_frame_equal(as_of_after[1].reset_index(drop=True), after_events.reset_index(drop=True))
    assert not as_of_before[1].equals(as_of_after[1])

    out = run_dir / "as_of.csv"
    assert main(["hydrate", "--as-of", str(edit_time - pd.Timedelta(microseconds=1)), "--out", str(out),
                 "--data-dir", str(run_dir)]) == 0
    assert pd.read_csv(out).set_index("event_id").loc[event["event_id"], "source_used_review"] != "ui"
    assert lake.read("user_edits_log").empty
