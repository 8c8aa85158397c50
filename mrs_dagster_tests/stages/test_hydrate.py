"""Hydrate helpers: latest rows, report-to-event membership derived from the logs, event causes."""

import pandas as pd

from mrs_dagster.stages.hydrate import hydrate_events, latest, report_events


def t(hhmm: str) -> pd.Timestamp:
    return pd.Timestamp(f"2026-03-10 {hhmm}", tz="UTC")


EVENTS = pd.DataFrame(
    {"event_id": ["e1", "e2", "e3"], "store_id": ["1", "1", "2"],
     "first_detected_from": [t("10:00"), t("12:00"), t("10:00")], "window_end": [t("10:30"), t("12:10"), t("11:00")]}
)


def test_latest_keeps_the_newest_row_per_key():
    log = pd.DataFrame({"k": ["a", "a", "b"], "written_at": [t("10:05"), t("10:00"), t("09:00")], "v": [2, 1, 3]})
    assert latest(log, "k").set_index("k")["v"].to_dict() == {"a": 2, "b": 3}


def test_each_report_belongs_to_the_event_whose_window_holds_its_first_tick():
    reports = pd.DataFrame({"store_id": ["1", "1", "2", "1"], "first_detected_from": [t("10:20"), t("12:00"), t("10:40"), t("11:00")]})
    membership = report_events(reports, EVENTS)
    assert list(membership[:3]) == ["e1", "e2", "e3"] and pd.isna(membership[3])


def test_event_cause_follows_the_money_at_stake_and_an_event_edit_overrides_it():
    reports = pd.DataFrame(
        {"report_id": ["r1", "r2", "r3"], "sku": ["A", "B", "C"], "event_id": "e1",
         "attributed_sales_total": [50.0, 40.0, 300.0], "proposed_cause": ["viral_demand", "viral_demand", "promotion"],
         "confidence_score": [0.75, 0.75, 0.9], "cluster_id": ["c1", "c1", "c2"], "resolution_reason": None,
         "is_degraded": False, "degraded_reasons": ""}
    )
    cohorted = pd.DataFrame(
        {"report_id": ["e1"], "store_id": "1", "first_detected_from": [t("10:00")], "window_start": [t("10:00")],
         "window_end": [t("10:20")], "severity_score": 0.5, "impact_estimate": 390.0, "baseline_sales_total": 10.0,
         "attributed_sales_total": 390.0, "event_status": "active", "written_at": [t("10:20")], "version": 1,
         "run_id": "run"}
    )
    machine = hydrate_events(reports, cohorted, None, "run").set_index("event_id")
    assert machine.loc["e1", "proposed_cause"] == machine.loc["e1", "cause"] == "promotion"
    assert machine.loc["e1", "confidence_score"] == 0.9
    assert machine.loc["e1", "cluster_id"] == "c1" and machine.loc["e1", "report_count"] == 3
    assert machine.loc["e1", "source_used_cause"] == "attribution"
    edit = pd.DataFrame({"event_id": ["e1"], "verdict": ["anomaly"], "cause_override": ["viral_demand"], "note": [None],
                         "analyst_id": ["AN-1"], "written_at": [t("18:00")]})
    reviewed = hydrate_events(reports, cohorted, edit, "run").set_index("event_id").loc["e1"]
    assert (reviewed["proposed_cause"], reviewed["cause"], reviewed["source_used_cause"]) == ("promotion", "viral_demand", "ui")
    assert reviewed["verdict"] == "anomaly" and reviewed["written_at"] == t("18:00")
