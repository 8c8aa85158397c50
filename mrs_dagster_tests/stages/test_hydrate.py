"""Hydrate helpers: latest rows, report-to-event membership derived from the logs, event causes."""

import pandas as pd

from mrs_dagster.stages.hydrate import event_causes, latest, report_events


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


def test_event_cause_follows_the_money_at_stake():
    reports = pd.DataFrame(
        {"report_id": ["r1", "r2", "r3"], "store_id": "1", "first_detected_from": [t("10:00"), t("10:10"), t("10:20")],
         "attributed_sales_total": [50.0, 40.0, 300.0], "written_at": [t("10:00"), t("10:10"), t("10:20")]}
    )
    attribution = pd.DataFrame(
        {"report_id": ["r1", "r2", "r3"], "proposed_cause": ["viral_demand", "viral_demand", "promotion"],
         "confidence_score": [0.75, 0.75, 0.9], "written_at": [t("10:00"), t("10:10"), t("10:20")]}
    )
    causes = event_causes(reports, attribution, EVENTS).set_index("event_id")
    assert causes.loc["e1", "proposed_cause"] == "promotion"
    assert causes.loc["e1", "confidence_score"] == 0.9
