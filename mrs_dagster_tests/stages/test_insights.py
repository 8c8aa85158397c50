import pandas as pd
import pytest

from mrs_dagster.contracts import INSIGHTS, conform
from mrs_dagster.stages.insights import duration, rank_insights

T = pd.Timestamp("2026-03-10 12:00", tz="UTC")  # a Tuesday


def event(event_id, store_id, skus, cause="viral_demand", confidence=0.8, verdict=None, resolution=None,
          source="attribution", cluster=None, start=T, hours=2):
    return {"event_id": event_id, "store_id": store_id, "skus": skus, "window_start": start,
            "window_end": start + pd.Timedelta(hours=hours) - pd.Timedelta(minutes=5), "event_status": "ended",
            "cause": cause, "confidence_score": confidence, "verdict": verdict, "resolution_reason": resolution,
            "source_used_cause": source, "cluster_id": cluster, "baseline_sales_total": 0.0,
            "attributed_sales_total": 0.0, "impact_estimate": 0.0}


def report(report_id, event_id, store_id, sku, observed, baseline, status="proposed", cluster=None,
           label=None, start=T):
    return {"report_id": report_id, "event_id": event_id, "store_id": store_id, "sku": sku,
            "observed_sales_total": observed, "baseline_sales_total": baseline, "report_status": status,
            "cluster_id": cluster, "cluster_label": label, "window_start": start}


EVENTS = pd.DataFrame([
    event("E1", "S1", "Q123", cluster="C1"),
    event("E2", "S2", "Q123", cluster="C1"),
    event("E3", "S3", "A,B", cause="stockout", confidence=0.6),
    event("E4", "S1", "Z", verdict="not_anomaly"),  # dismissed by an analyst
    event("E5", "S2", "Y", resolution="data correction"),  # closed by a corrected resend
    event("E6", "S3", "X"),  # its only report superseded
    event("E7", "S4", "W", cause="promotion", source="ui"),
])
REPORTS = pd.DataFrame([
    report("R1", "E1", "S1", "Q123", 410.0, 100.0, cluster="C1", label="sku_across_stores"),
    report("R2", "E2", "S2", "Q123", 900.0, 200.0, cluster="C1", label="sku_across_stores"),
    report("R3a", "E3", "S3", "A", 10.0, 500.0),
    report("R3b", "E3", "S3", "B", 0.0, 300.0),
    report("R4", "E4", "S1", "Z", 5000.0, 10.0),
    report("R5", "E5", "S2", "Y", 5000.0, 10.0),
    report("R6", "E6", "S3", "X", 5000.0, 10.0, status="superseded"),
    report("R7", "E7", "S4", "W", 150.0, 100.0),
])
ATTRIBUTION = pd.DataFrame({"report_id": ["R1", "R2", "R7"], "campaign_id": [None, None, "CMP-9"]})
STORES = pd.DataFrame({"store_id": ["S1", "S2", "S3", "S4"], "region": ["north", "north", "south", "south"]})
SKUS = pd.DataFrame({"sku": ["Q123", "A", "B", "W", "X", "Y", "Z"],
                     "category": ["snacks", "dairy", "dairy", "drinks", "drinks", "drinks", "drinks"]})


def test_events_are_ranked_by_money_at_stake_gained_or_lost_and_non_news_is_left_out():
    ranked = conform(INSIGHTS, rank_insights(EVENTS, REPORTS, ATTRIBUTION, STORES, "run-1"))
    # E3 lost 790, E2 gained 700, E1 gained 310, E7 gained 50; E4 dismissed, E5 corrected, E6 superseded.
    assert ranked["event_id"].tolist() == ["E3", "E2", "E1", "E7"]
    assert ranked["rank"].tolist() == [1, 2, 3, 4]
    top = ranked.iloc[0]
    assert top["sales_at_stake"] == -790.0 and top["money_at_stake"] == 790.0 and top["direction"] == "drop"
    assert ranked.set_index("event_id").loc["E2", "cluster_stores"] == 2
    assert ranked.set_index("event_id").loc["E3", "region"] == "south"


def test_each_finding_tells_what_where_how_long_why_and_how_much_in_one_line():
    ranked = rank_insights(EVENTS, REPORTS, ATTRIBUTION, STORES, "run-1", currency="$").set_index("event_id")
    assert ranked.loc["E2", "finding"] == (
        "SKU Q123 sold 4.5× baseline at store S2 (a pattern across 2 stores) for 2 h, no campaign: "
        "likely viral demand (80% confidence), $700 above baseline")
    assert ranked.loc["E3", "finding"].startswith("2 SKUs (A, B) sold 0.0× baseline at store S3 for 2 h")
    assert ranked.loc["E3", "finding"].endswith("likely stockout (60% confidence), $790 below baseline")
    assert "during campaign CMP-9: promotion per the analyst" in ranked.loc["E7", "finding"]
    assert all("\n" not in f for f in ranked["finding"])


@pytest.mark.parametrize("minutes, text", [(5, "5 min"), (45, "45 min"), (60, "1 h"), (135, "2 h 15 min"),
                                           (1440, "1 d"), (1620, "1 d 3 h")])
def test_durations_read_as_people_say_them(minutes, text):
    assert duration(pd.Timedelta(minutes=minutes)) == text


def test_a_world_without_events_ranks_nothing():
    ranked = rank_insights(EVENTS.iloc[0:0], REPORTS.iloc[0:0], ATTRIBUTION.iloc[0:0], STORES, "run-1")
    assert conform(INSIGHTS, ranked).empty
