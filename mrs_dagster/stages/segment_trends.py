"""Segment trends (seed 003): per region, category, cause and cohort, per day and ISO week.

A report belongs to the segments of its series (store x SKU): its store's region, its SKU's
category, the cohorts that hold its store, SKU or combo, and its event's cause. A period holds a
report by the day its window starts. A cause is not a slice of the sales, so a cause's
`sales_total` is all sales of the period. Every segment gets a row for every period of the data,
events or not, so the change against the previous period is always against the period before.
The events counted are those `insights` ranks (stages.insights.newsworthy).
"""

from __future__ import annotations

import pandas as pd

from mrs_dagster.contracts import SEGMENT_TRENDS, TREND_PERIODS
from mrs_dagster.stages.frames import concat_rows
from mrs_dagster.stages.insights import newsworthy

NO_CAUSE = "none"  # an event no cause could be proposed for


def daily_sales(summary: pd.DataFrame) -> pd.DataFrame:
    """Sales value per store, SKU and UTC day of the current series, from its daily summary
    (`stages.ingest.daily_summary`)."""
    return summary.groupby(["store_id", "sku", "day"], sort=True)["sales_value"].sum().reset_index()


def series_segments(combos: pd.DataFrame, stores: pd.DataFrame | None, skus: pd.DataFrame | None,
                    members: pd.DataFrame) -> pd.DataFrame:
    """(store_id, sku, dimension, segment) for every series in `combos` and each segment it is in
    but the cause: region, category, and every cohort of `members` (cohort_id, entity_type,
    store_id, sku, as cohorts.membership.current_members gives them)."""
    parts = []
    for dimension, reference, key in (("region", stores, "store_id"), ("category", skus, "sku")):
        if reference is not None:
            named = combos.merge(reference[[key, dimension]].rename(columns={dimension: "segment"}), on=key)
            parts.append(named.dropna(subset=["segment"]).assign(dimension=dimension))
    for entity_type, keys in (("store", ["store_id"]), ("sku", ["sku"]), ("combo", ["store_id", "sku"])):
        of_type = members[members["entity_type"] == entity_type][[*keys, "cohort_id"]]
        parts.append(combos.merge(of_type, on=keys).rename(columns={"cohort_id": "segment"}).assign(dimension="cohort"))
    columns = ["store_id", "sku", "dimension", "segment"]
    return pd.concat([p[columns] for p in parts], ignore_index=True).drop_duplicates()


def segment_trends(reports: pd.DataFrame, events: pd.DataFrame, sales: pd.DataFrame, stores: pd.DataFrame | None,
                   skus: pd.DataFrame | None, members: pd.DataFrame, run_id: str) -> pd.DataFrame:
    """`segment_trends` from hydrated `reports` and `events` (for the cause), `sales` as
    daily_sales gives it, reference `stores` and `skus` (None when missing) and cohort `members`."""
    events, r = newsworthy(events, reports)
    r = r.assign(
        day=r["window_start"].dt.floor("D"),
        at_stake=(r["observed_sales_total"] - r["baseline_sales_total"]).abs(),
    )
    by_cause = r.assign(segment=r["event_id"].map(events.set_index("event_id")["cause"]).fillna(NO_CAUSE),
                        dimension="cause")
    combos = concat_rows([sales[["store_id", "sku"]], r[["store_id", "sku"]]]).drop_duplicates()
    segments = series_segments(combos, stores, skus, members)
    tagged = pd.concat([r.merge(segments, on=["store_id", "sku"]), by_cause], ignore_index=True)
    sales_by_segment = pd.concat(
        [sales.merge(segments, on=["store_id", "sku"]),
         sales.groupby("day", as_index=False)["sales_value"].sum()
         .merge(by_cause[["segment"]].drop_duplicates(), how="cross").assign(dimension="cause")],
        ignore_index=True,
    )
    frames = [_per_period(tagged, sales_by_segment, period) for period in TREND_PERIODS]
    out = pd.concat(frames, ignore_index=True).assign(run_id=run_id)
    return out.sort_values(["dimension", "segment", "period", "period_start"], ignore_index=True)[SEGMENT_TRENDS.columns]


def latest_week(trends: pd.DataFrame) -> pd.DataFrame:
    """The rows of the newest ISO week, most sales at stake first."""
    weeks = trends[trends["period"] == "week"]
    return weeks[weeks["period_start"] == weeks["period_start"].max()].sort_values("sales_at_stake", ascending=False)


def period_start(days: pd.Series, period: str) -> pd.Series:
    return days if period == "day" else days - pd.to_timedelta(days.dt.weekday, unit="D")


def _per_period(reports: pd.DataFrame, sales: pd.DataFrame, period: str) -> pd.DataFrame:
    keys = ["dimension", "segment", "period_start"]
    totals = sales.assign(period_start=period_start(sales["day"], period)).groupby(keys)["sales_value"].sum()
    found = reports.assign(period_start=period_start(reports["day"], period)).groupby(keys).agg(
        events=("event_id", "nunique"), sales_at_stake=("at_stake", "sum"), affected=("observed_sales_total", "sum")
    )
    segments = sales[["dimension", "segment"]].drop_duplicates()
    periods = pd.DataFrame({"period_start": period_start(sales["day"], period).drop_duplicates().sort_values()})
    grid = segments.merge(periods, how="cross").set_index(keys)
    out = grid.join(totals.rename("sales_total")).join(found).fillna(
        {"sales_total": 0.0, "events": 0, "sales_at_stake": 0.0, "affected": 0.0}
    ).reset_index().sort_values(keys, ignore_index=True)
    # A report's window can straddle midnight into a day its sales are not counted by.
    out["share_affected"] = (out["affected"] / out["sales_total"]).where(out["sales_total"] > 0, 0.0).clip(0, 1)
    previous = out.groupby(["dimension", "segment"])[["events", "sales_at_stake"]].shift()
    out["events_change"] = (out["events"] - previous["events"]).astype("Int64")
    out["sales_at_stake_change"] = out["sales_at_stake"] - previous["sales_at_stake"]
    return out.assign(period=period, events=out["events"].astype(int))
