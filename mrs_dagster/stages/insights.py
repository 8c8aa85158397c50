"""Insights (seed 003): minority events ranked by money at stake, each told in one line.

Money at stake is what the event's sales gained or lost against the baseline, summed over its
current reports (superseded reports are not money). An event is left out when it is not news:
every report of it superseded, closed by a re-evaluation (a data correction, a model update), or
dismissed by an analyst (`not_anomaly`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrs_dagster.contracts import INSIGHTS, REEVALUATION_RESOLUTIONS
from mrs_dagster.stages.reference import with_region_and_category
from mrs_dagster.stages.timestamps import TICK

DISMISSED = "not_anomaly"


def newsworthy(events: pd.DataFrame, reports: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the hydrated events that are news, their reports that count: not superseded)."""
    events = events[~events["resolution_reason"].isin(REEVALUATION_RESOLUTIONS) & events["verdict"].ne(DISMISSED)]
    live = reports[reports["event_id"].isin(events["event_id"]) & reports["report_status"].ne("superseded")]
    return events[events["event_id"].isin(live["event_id"])], live


def rank_insights(events: pd.DataFrame, reports: pd.DataFrame, attribution: pd.DataFrame,
                  stores: pd.DataFrame | None, run_id: str, currency: str = "£") -> pd.DataFrame:
    """`insights` from hydrated `events` and `reports`, the latest attribution row per report
    (`campaign_id`) and reference `stores` (`region`; None when missing)."""
    kept, r = newsworthy(events, reports)
    r = r.merge(attribution[["report_id", "campaign_id"]].drop_duplicates("report_id"), on="report_id", how="left")
    cluster_stores = r.dropna(subset=["cluster_id"]).groupby("cluster_id")["store_id"].nunique()
    totals = r.groupby("event_id").agg(
        observed_sales_total=("observed_sales_total", "sum"),
        baseline_sales_total=("baseline_sales_total", "sum"),
        cluster_label=("cluster_label", lambda s: s.mode().iat[0] if s.notna().any() else None),
        campaign_id=("campaign_id", lambda s: s.dropna().min() if s.notna().any() else None),
    ).reset_index()
    out = kept.drop(columns=["baseline_sales_total"]).merge(totals, on="event_id")
    out["sales_at_stake"] = out["observed_sales_total"] - out["baseline_sales_total"]
    out["money_at_stake"] = out["sales_at_stake"].abs()
    out["direction"] = np.where(out["sales_at_stake"] >= 0, "spike", "drop")
    out["lift"] = (out["observed_sales_total"] / out["baseline_sales_total"]).where(out["baseline_sales_total"] > 0)
    out["cluster_stores"] = out["cluster_id"].map(cluster_stores).fillna(1).astype(int)
    out = with_region_and_category(out, stores, None).sort_values(
        ["money_at_stake", "event_id"], ascending=[False, True], ignore_index=True
    )
    out["rank"] = np.arange(1, len(out) + 1)
    out["finding"] = [finding(row, currency) for row in out.itertuples(index=False)]
    out["run_id"] = run_id
    return out[INSIGHTS.columns]


def money(value: float, currency: str) -> str:
    """`value` for people: "£3,582", "-£790"."""
    return f"{'-' if value < 0 else ''}{currency}{abs(value):,.0f}"


def event_skus(event) -> list[str]:
    """The SKUs of a hydrated event row (its comma-joined `skus`, NULL when it has none)."""
    return [s for s in event.skus.split(",") if s] if isinstance(event.skus, str) else []


def sku_phrase(event, listed: int = 3) -> str:
    """"SKU Q123", or "14 SKUs (A, B, C, …)" naming the first `listed` of them."""
    skus = event_skus(event)
    if len(skus) == 1:
        return f"SKU {skus[0]}"
    names = f" ({', '.join(skus[:listed])}{', …' if len(skus) > listed else ''})" if listed else ""
    return f"{len(skus)} SKUs{names}"


def finding(event, currency: str) -> str:
    """One plain-English line: what sold how far from baseline, where, for how long, with or
    without a campaign, the likely cause, and the money."""
    what = sku_phrase(event)
    sold = f"sold {event.lift:.1f}× baseline" if pd.notna(event.lift) else "sold with no baseline sales expected"
    where = f"at store {event.store_id}"
    if event.cluster_stores > 1:
        where += f" (a pattern across {event.cluster_stores} stores)"
    campaign = f"during campaign {event.campaign_id}" if isinstance(event.campaign_id, str) else "no campaign"
    stake = f"{money(event.money_at_stake, currency)} {'above' if event.sales_at_stake >= 0 else 'below'} baseline"
    return f"{what} {sold} {where} for {duration(event.window_end - event.window_start + TICK)}, {campaign}: {why(event)}, {stake}"


def why(event) -> str:
    cause = event.cause.replace("_", " ") if isinstance(event.cause, str) else ""
    if not cause:
        return "cause not yet known"
    if event.source_used_cause == "ui":
        return f"{cause} per the analyst"
    if event.verdict == "anomaly":
        return f"confirmed, likely {cause}"
    confidence = f" ({event.confidence_score:.0%} confidence)" if pd.notna(event.confidence_score) else ""
    return f"likely {cause}{confidence}"


def duration(span: pd.Timedelta) -> str:
    """`span` for people: "45 min", "2 h 15 min", "1 d 3 h"."""
    minutes = int(span.total_seconds() // 60)
    days, hours, minutes = minutes // 1440, minutes % 1440 // 60, minutes % 60
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"
