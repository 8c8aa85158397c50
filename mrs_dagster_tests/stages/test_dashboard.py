import pandas as pd

from mrs_dagster.stages.dashboard import money_by_store_and_day, recent_events, sales_against_baseline, slo_panel

T = pd.Timestamp("2026-03-10 12:00", tz="UTC")
EVENT = pd.Series({"store_id": "S1", "skus": "A,B", "window_start": T, "window_end": T + pd.Timedelta(minutes=10)})


def test_the_event_chart_sums_its_skus_at_its_store_against_the_latest_baseline():
    ticks = [T + pd.Timedelta(minutes=5 * i) for i in range(3)]
    series = pd.DataFrame({"store_id": ["S1"] * 6 + ["S2"] * 3 + ["S1"] * 3,
                           "sku": ["A"] * 3 + ["B"] * 3 + ["A"] * 3 + ["C"] * 3,
                           "ts": ticks * 4, "sales_value": [1.0, 2, 3, 10, 20, 30, 500, 500, 500, 700, 700, 700]})
    baseline = pd.DataFrame({"store_id": ["S1"] * 4, "sku": ["A", "A", "B", "C"], "ts": [ticks[0]] * 4,
                             "expected_sales_value": [4.0, 5.0, 6.0, 900.0],
                             "written_at": [T, T + pd.Timedelta(hours=1), T, T], "version": [1, 1, 1, 1]})
    frame = sales_against_baseline(series, baseline, EVENT)
    assert frame["sales"].tolist() == [11.0, 22.0, 33.0]  # S2 and SKU C are another series
    assert frame["baseline"].tolist() == [11.0, 0.0, 0.0]  # A's newer prediction (5) + B's (6)


def test_the_heat_map_sums_money_per_store_and_day():
    insights = pd.DataFrame({"store_id": ["S1", "S1", "S2"], "money_at_stake": [10.0, 5.0, 7.0],
                             "window_start": [T, T + pd.Timedelta(hours=2), T + pd.Timedelta(days=1)]})
    matrix = money_by_store_and_day(insights)
    assert matrix.loc["S1", T.floor("D")] == 15.0 and matrix.loc["S2", T.floor("D")] == 0.0
    assert matrix.loc["S2", (T + pd.Timedelta(days=1)).floor("D")] == 7.0


def test_recent_events_are_those_started_in_the_last_days_up_to_the_newest_events_day():
    starts = [T - pd.Timedelta(days=3), T - pd.Timedelta(days=2, hours=13), T - pd.Timedelta(days=2), T]
    insights = pd.DataFrame({"event_id": ["e1", "e2", "e3", "e4"], "window_start": starts})
    assert recent_events(insights, 3)["event_id"].tolist() == ["e3", "e4"]  # from 8 March, 00:00 UTC
    assert recent_events(insights, 4)["event_id"].tolist() == ["e1", "e2", "e3", "e4"]


def test_the_health_panel_flags_each_breached_slo():
    health = pd.DataFrame({
        "dataset": ["minority_reports_detected_log", "minority_reports_proposed_attribution_log",
                    "minority_reports_finalised_log"],
        "lag_minutes": [45.0, 10.0, None], "slo_minutes": [30.0, 240.0, None], "slo_met": [False, True, None],
        "coverage": [None, 0.5, None], "degraded_share": [None, None, 0.25],
    })
    panel = slo_panel(health, error_rows=3, valid_rows=97).set_index("measure")
    assert not panel.loc["freshness: minority_reports_detected_log", "met"]
    assert panel.loc["freshness: minority_reports_detected_log", "target"] == "≤ 30 min"
    assert panel.loc["freshness: minority_reports_proposed_attribution_log", "met"]
    assert not panel.loc["attribution coverage", "met"] and panel.loc["attribution coverage", "value"] == "50.0%"
    assert not panel.loc["ingest error rate", "met"] and panel.loc["ingest error rate", "value"].startswith("3.00%")
    assert panel.loc["degraded reports", "value"] == "25.0%"
