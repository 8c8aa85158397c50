"""What the dashboard and the review console plot and list, as frames (seed 003's dashboard)."""

from __future__ import annotations

import pandas as pd

from mrs_dagster.contracts import CAUSES
from mrs_dagster.stages import slo
from mrs_dagster.stages.hydrate import latest
from mrs_dagster.stages.insights import event_skus

CONTEXT = pd.Timedelta(hours=3)  # shown either side of an event's window


def sales_against_baseline(series: pd.DataFrame, baseline: pd.DataFrame, event) -> pd.DataFrame:
    """Per tick around `event` (a row with store_id, skus, window_start, window_end): the sales
    value of its SKUs at its store and the baseline's expected value (its latest prediction)."""
    lo, hi = event.window_start - CONTEXT, event.window_end + CONTEXT

    def around(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame["store_id"].eq(event.store_id) & frame["sku"].isin(event_skus(event))
                     & frame["ts"].between(lo, hi)]

    sales = around(series).groupby("ts")["sales_value"].sum()
    expected = latest(around(baseline), ["store_id", "sku", "ts"]).groupby("ts")["expected_sales_value"].sum()
    return pd.DataFrame({"sales": sales, "baseline": expected}).sort_index().fillna(0.0).rename_axis("ts").reset_index()


def recent_events(insights: pd.DataFrame, days: int) -> pd.DataFrame:
    """The events that started in the `days` (UTC) days up to the newest event's start day."""
    first_day = insights["window_start"].max().floor("D") - pd.Timedelta(days=days - 1)
    return insights[insights["window_start"] >= first_day]


def events_by_cause(insights: pd.DataFrame) -> pd.DataFrame:
    """Events per day (by window start) and cause, causes in the taxonomy's order."""
    days = insights["window_start"].dt.floor("D").rename("day")
    counts = insights.groupby([days, insights["cause"].fillna("none")]).size().unstack(fill_value=0)
    order = [c for c in (*CAUSES, "none") if c in counts.columns]
    return counts[order]


def money_by_store_and_day(insights: pd.DataFrame) -> pd.DataFrame:
    """Money at stake per store (rows) and day (columns)."""
    days = insights["window_start"].dt.floor("D").rename("day")
    return insights.groupby(["store_id", days])["money_at_stake"].sum().unstack(fill_value=0.0).sort_index()


def slo_panel(health: pd.DataFrame, error_rows: int, valid_rows: int) -> pd.DataFrame:
    """The health panel: freshness per lag-checked log, attribution coverage, the ingest error rate
    and the degraded share, each against its SLO (seed 001 §11)."""
    rows = [
        {"measure": f"freshness: {r.dataset}", "value": f"{r.lag_minutes:,.0f} min behind the data",
         "target": f"≤ {r.slo_minutes:,.0f} min", "met": bool(r.slo_met)}
        for r in health.dropna(subset=["lag_minutes"]).itertuples()
    ]
    by_name = health.set_index("dataset")
    coverage = by_name.at["minority_reports_proposed_attribution_log", "coverage"]
    degraded = by_name.at["minority_reports_finalised_log", "degraded_share"]
    rate = slo.error_rate(valid_rows, error_rows)
    rows += [
        {"measure": "attribution coverage", "value": f"{coverage:.1%}" if pd.notna(coverage) else "n/a",
         "target": f"≥ {slo.MIN_ATTRIBUTION_COVERAGE:.0%}", "met": bool(pd.isna(coverage) or coverage >= slo.MIN_ATTRIBUTION_COVERAGE)},
        {"measure": "ingest error rate", "value": f"{rate:.2%} ({error_rows:,} dead letters)",
         "target": f"≤ {slo.MAX_ERROR_RATE:.0%}", "met": rate <= slo.MAX_ERROR_RATE},
        {"measure": "degraded reports", "value": f"{degraded:.1%}" if pd.notna(degraded) else "n/a",
         "target": "shown, not an SLO", "met": True},
    ]
    return pd.DataFrame(rows)
