import pandas as pd
import pytest

from mrs_dagster.contracts import SEGMENT_TRENDS, conform
from mrs_dagster.stages.ingest import daily_summary
from mrs_dagster.stages.segment_trends import daily_sales, segment_trends
from mrs_dagster_tests.stages.test_insights import EVENTS, REPORTS, SKUS, STORES, T


def test_segment_trends_count_events_money_and_share_per_segment_and_period_with_the_change():
    series = pd.DataFrame({
        "store_id": ["S1", "S2", "S3", "S3", "S4", "S1"],
        "sku": ["Q123", "Q123", "A", "B", "W", "Q123"],
        "ts": [T, T, T, T, T, T - pd.Timedelta(days=7)],  # one week earlier: the previous period
        "sales_value": [1000.0, 1000.0, 400.0, 600.0, 500.0, 800.0],
        "feed_version": 1,
    })
    members = pd.DataFrame({"cohort_id": ["COH-1", "COH-2"], "entity_type": ["store", "combo"],
                            "member_id": ["S3", "k"], "store_id": ["S3", "S1"], "sku": [None, "Q123"]})
    sales = daily_sales(daily_summary(series))
    trends = conform(SEGMENT_TRENDS, segment_trends(REPORTS, EVENTS, sales, STORES, SKUS, members, "r"))
    week = trends[(trends["period"] == "week")].set_index(["dimension", "segment", "period_start"])
    monday = pd.Timestamp("2026-03-09", tz="UTC")
    north = week.loc[("region", "north", monday)]
    # E1 and E2; not the dismissed E4 nor E5, closed by a correction: the events insights ranks
    assert north["events"] == 2 and north["sales_total"] == 2000.0 and north["sales_at_stake"] == 1010.0
    assert north["share_affected"] == pytest.approx((410 + 900) / 2000)
    assert north["events_change"] == 2 and north["sales_at_stake_change"] == 1010.0
    previous = week.loc[("region", "north", monday - pd.Timedelta(days=7))]
    assert previous["events"] == 0 and pd.isna(previous["events_change"])
    dairy = week.loc[("category", "dairy", monday)]
    assert dairy["events"] == 1 and dairy["sales_at_stake"] == 790.0 and dairy["share_affected"] == pytest.approx(10 / 1000)
    assert week.loc[("cause", "stockout", monday), "sales_total"] == 3500.0  # a cause's sales are all sales
    assert week.loc[("cohort", "COH-1", monday), "events"] == 1  # the store S3 (E3; E6 is superseded)
    assert week.loc[("cohort", "COH-2", monday), "events"] == 1  # the combo S1 x Q123
    days = trends[(trends["period"] == "day") & (trends["dimension"] == "region")]
    assert set(days["period_start"]) == {T.floor("D"), T.floor("D") - pd.Timedelta(days=7)}
