"""Seed 000 cohorting, including the Store 327 narrative (§7) row by row."""

import pandas as pd
import pytest

from mrs_dagster.contracts import MINORITY_EVENT_LOG, MINORITY_EVENTS_ENDED_LOG, MINORITY_REPORTS_COHORTED_LOG, conform
from mrs_dagster.stages.cohorting import cohort_reports
from mrs_dagster.stages.identity import stable_id

DAY = "2026-03-04"


def t(hhmm: str) -> pd.Timestamp:
    return pd.Timestamp(f"{DAY} {hhmm}", tz="UTC")


def mrdl_row(sku: str, tick: str, severity: float, attributed: float, baseline: float = 100.0, version: int = 1) -> dict:
    return {
        "report_id": stable_id("327", sku, t(tick)),
        "store_id": "327",
        "sku": sku,
        "first_detected_from": t(tick),
        "window_start": t(tick),
        "window_end": t(tick),
        "direction": "spike",
        "observed_units": 10.0,
        "baseline_units": 2.0,
        "observed_sales_total": baseline + attributed,
        "baseline_sales_total": baseline,
        "attributed_sales_total": attributed,
        "severity_score": severity,
        "detection_mode": "model",
        "is_degraded": False,
        "model_version": "test",
        "written_at": t(tick),
        "version": version,
        "run_id": "run-1",
    }


@pytest.fixture
def narrative():
    """Store 327 emits MRDL rows at 11:55, 12:00, 12:05; its data then runs on to 14:00."""
    detected = pd.DataFrame(
        [
            mrdl_row("SKU0001", "11:55", 0.55, 2500.0),
            mrdl_row("SKU0002", "12:00", 0.72, 3200.0),
            mrdl_row("SKU0003", "12:05", 0.61, 2500.0),
        ]
    )
    return cohort_reports(detected, pd.Series({"327": t("14:00")}), "run-1")


def test_store_327_narrative_cohorted_log(narrative):
    mrch = conform(MINORITY_REPORTS_COHORTED_LOG, narrative.cohorted)
    event_id = stable_id("327", t("11:55"))
    assert list(mrch["written_at"]) == [t("11:55"), t("12:00"), t("12:05"), t("13:05")]
    assert set(mrch["report_id"]) == {event_id}
    assert (mrch["first_detected_from"] == t("11:55")).all()
    assert (mrch["window_start"] == t("11:55")).all()
    assert list(mrch["window_end"]) == [t("11:55"), t("12:00"), t("12:05"), t("12:05")]
    assert list(mrch["event_status"]) == ["active", "active", "active", "ended"]
    assert list(mrch["severity_score"]) == [0.55, 0.72, 0.72, 0.72]
    assert list(mrch["attributed_sales_total"]) == [2500.0, 5700.0, 8200.0, 8200.0]
    assert list(mrch["baseline_sales_total"]) == [100.0, 200.0, 300.0, 300.0]
    assert (mrch["run_id"] == "run-1").all() and (mrch["store_id"] == "327").all()


def test_store_327_narrative_event_registry(narrative):
    melog = conform(MINORITY_EVENT_LOG, narrative.events).reset_index(drop=True)
    assert len(melog) == 2
    created, final = melog.iloc[0], melog.iloc[1]
    assert created["event_id"] == final["event_id"] == stable_id("327", t("11:55"))
    assert created["written_at"] == created["created_at"] == t("11:55")
    assert created["event_status"] == "active" and pd.isna(created["finalized_at"])
    assert created["first_detected_from"] == created["window_start"] == t("11:55")
    assert final["event_status"] == "ended"
    assert final["window_end"] == t("12:05")
    assert final["finalized_at"] == final["written_at"] == t("13:05")
    assert final["created_at"] == t("11:55")
    assert final["severity_score"] == 0.72
    assert final["attributed_sales_total"] == 8200.0

    meel = conform(MINORITY_EVENTS_ENDED_LOG, narrative.ended)
    assert len(meel) == 1
    assert meel.iloc[0]["finalized_at"] == t("13:05")
    assert meel.iloc[0]["resolution_reason"] == "no new reports"


def test_event_stays_active_until_the_store_data_reaches_closure():
    detected = pd.DataFrame([mrdl_row("SKU0001", "11:55", 0.5, 100.0)])
    before = cohort_reports(detected, pd.Series({"327": t("12:50")}), "run-1")
    after = cohort_reports(detected, pd.Series({"327": t("12:55")}), "run-1")
    assert list(before.cohorted["event_status"]) == ["active"]
    assert before.ended.empty
    assert list(after.cohorted["event_status"]) == ["active", "ended"]


def test_a_report_past_the_gap_starts_a_new_event():
    detected = pd.DataFrame(
        [
            mrdl_row("SKU0001", "11:55", 0.5, 100.0),
            mrdl_row("SKU0001", "12:25", 0.5, 100.0),  # 30 min later: joins
            mrdl_row("SKU0002", "13:00", 0.5, 100.0),  # 35 min after 12:25: a new event
        ]
    )
    result = cohort_reports(detected, pd.Series({"327": t("16:00")}), "run-1")
    events = result.events.drop_duplicates("event_id")
    assert list(events["first_detected_from"]) == [t("11:55"), t("13:00")]
    ended = result.ended.set_index("event_id")["finalized_at"]
    assert ended[stable_id("327", t("11:55"))] == t("13:25")
    assert ended[stable_id("327", t("13:00"))] == t("14:00")


def test_event_totals_use_each_report_latest_state():
    """A report re-emitted as it grows counts once, with its latest cumulative totals."""
    first = mrdl_row("SKU0001", "11:55", 0.4, 100.0)
    grown = {**first, "window_end": t("12:00"), "written_at": t("12:00"), "attributed_sales_total": 250.0,
             "baseline_sales_total": 180.0, "severity_score": 0.3}
    drop = {**mrdl_row("SKU0002", "12:00", 0.6, -40.0), "direction": "drop"}
    result = cohort_reports(pd.DataFrame([first, grown, drop]), pd.Series({"327": t("12:00")}), "run-1")
    last = result.cohorted.iloc[-1]
    assert last["attributed_sales_total"] == 210.0
    assert last["baseline_sales_total"] == 280.0
    assert last["impact_estimate"] == 290.0
    assert last["severity_score"] == 0.6


def test_cohorting_is_deterministic_replay():
    detected = pd.DataFrame([mrdl_row("SKU0001", "11:55", 0.55, 2500.0), mrdl_row("SKU0002", "12:00", 0.72, 3200.0)])
    a = cohort_reports(detected, pd.Series({"327": t("14:00")}), "run-1")
    b = cohort_reports(detected.sample(frac=1, random_state=3), pd.Series({"327": t("14:00")}), "run-1")
    pd.testing.assert_frame_equal(a.cohorted.reset_index(drop=True), b.cohorted.reset_index(drop=True))
