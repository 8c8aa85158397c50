import re

import pandas as pd

from mrs_dagster.contracts import DATASETS
from mrs_dagster.lake import Lake
from mrs_dagster.reporting.site import DashboardInputs, build_dashboard, chart_data, write_site
from mrs_dagster.stages.dashboard import CONTEXT
from mrs_dagster.stages.ingest import daily_summary
from mrs_dagster.stages.insights import rank_insights
from mrs_dagster.stages.segment_trends import daily_sales, segment_trends
from mrs_dagster_tests.stages.test_insights import ATTRIBUTION, EVENTS, REPORTS, SKUS, STORES, T

HEALTH = pd.DataFrame({
    "dataset": ["minority_reports_detected_log", "minority_reports_proposed_attribution_log",
                "minority_reports_finalised_log"],
    "lag_minutes": [0.0, 0.0, None], "slo_minutes": [30.0, 240.0, None], "slo_met": [True, True, None],
    "coverage": [None, 1.0, None], "degraded_share": [None, None, 0.0],
})


def inputs(insights: pd.DataFrame) -> DashboardInputs:
    ticks = pd.date_range(T - pd.Timedelta(hours=1), periods=36, freq="5min")
    series = pd.DataFrame([{"store_id": s, "sku": k, "ts": t, "sales_value": 5.0, "feed_version": 1}
                           for s, k in REPORTS[["store_id", "sku"]].itertuples(index=False) for t in ticks])
    baseline = series.rename(columns={"sales_value": "expected_sales_value"}).assign(written_at=T, version=1)
    members = pd.DataFrame(columns=["cohort_id", "entity_type", "store_id", "sku"])
    trends = segment_trends(REPORTS, EVENTS, daily_sales(daily_summary(series)), STORES, SKUS, members, "run-1")
    return DashboardInputs(insights=insights, segment_trends=trends, health=HEALTH, series=series, baseline=baseline,
                           error_rows=0, valid_rows=100, run_id="run-1", newest_tick=ticks[-1], currency="£")


def test_the_site_has_a_chart_per_top_event_and_an_overview_each_image_with_alt_text(tmp_path):
    insights = rank_insights(EVENTS, REPORTS, ATTRIBUTION, STORES, "run-1")
    files = build_dashboard(inputs(insights))
    html = files["index.html"].decode()
    images = re.findall(r'<img src="([^"]+)" alt="([^"]+)"', html)
    assert sorted(src for src, _ in images) == sorted(name for name in files if name.endswith(".png"))
    assert len(images) == len(insights) + 2  # every event is a top event here, plus by cause and the heat map
    assert all(files[src].startswith(b"\x89PNG") and len(alt) > 40 for src, alt in images)
    assert html.index(insights["finding"].iat[0]) < html.index(insights["finding"].iat[1])
    write_site(files, tmp_path / "dashboard")
    write_site({"index.html": b"again"}, tmp_path / "dashboard")  # replaced whole, nothing left over
    assert sorted(p.name for p in (tmp_path / "dashboard").iterdir()) == ["index.html"]


def test_a_world_without_events_gets_a_dashboard_that_says_so():
    files = build_dashboard(inputs(DATASETS["insights"].empty()))
    assert list(files) == ["index.html"] and "No minority events: nothing to rank." in files["index.html"].decode()


def test_chart_data_reads_each_events_store_around_its_window_once(tmp_path):
    ticks = pd.date_range("2026-03-02", "2026-03-04", freq="5min", tz="UTC", inclusive="left")
    rows = pd.DataFrame([{"retailer": "northmart", "store_id": s, "sku": "A", "ts": t, "feed_version": 1, "units": 1.0,
                          "sales_value": 2.0, "written_at": t, "run_id": "run-1"} for s in ("301", "302") for t in ticks])
    lake = Lake(tmp_path / "lake")
    lake.append("sales_timeseries_data", rows)
    predictions = rows.drop(columns=["retailer", "feed_version", "units", "sales_value"])
    lake.append("baseline_sales_model_prediction_log",
                predictions.assign(expected_units=1.0, expected_sales_value=2.0, model_version="v1", version=1))
    at = pd.Timestamp("2026-03-03 12:00", tz="UTC")
    events = pd.DataFrame({"store_id": ["301", "301"], "window_start": [at, at + pd.Timedelta(hours=1)],
                           "window_end": [at + pd.Timedelta(hours=2), at + pd.Timedelta(hours=2)]})
    series, baseline = chart_data(lake, "run-1", events)
    expected = pd.date_range(at - CONTEXT, at + pd.Timedelta(hours=2) + CONTEXT, freq="5min")
    for frame in (series, baseline):
        assert set(frame["store_id"]) == {"301"}
        assert sorted(frame["ts"]) == list(expected)  # the overlapping events' ticks once each
    empty_series, empty_baseline = chart_data(lake, "run-1", events.head(0))
    assert empty_series.empty and empty_baseline.empty
