"""Hydrate: current state derived from the logs, never stored by hand (seed 001 §1)."""

from __future__ import annotations

import pandas as pd


def latest(log: pd.DataFrame, key: str) -> pd.DataFrame:
    """The latest row by `written_at` per `key` (ties: the last appended)."""
    return log.sort_values("written_at", kind="stable").drop_duplicates(key, keep="last")


def report_events(reports: pd.DataFrame, events: pd.DataFrame) -> pd.Series:
    """Each report's event: the event of its store whose window contains the report's first tick.

    Events of a store are separated by more than the cohorting gap and a report never spans one,
    so the membership is derived from the logs rather than stored. `reports` and `events` hold
    one (latest) row each; returns event_id indexed like `reports`."""
    left = reports[["store_id", "first_detected_from"]].reset_index(names="_row").sort_values("first_detected_from")
    right = events[["event_id", "store_id", "first_detected_from", "window_end"]].sort_values("first_detected_from")
    joined = pd.merge_asof(left, right, on="first_detected_from", by="store_id", direction="backward")
    inside = joined["first_detected_from"] <= joined["window_end"]
    return joined.loc[inside.to_numpy()].set_index("_row")["event_id"].reindex(reports.index)


def event_causes(reports: pd.DataFrame, attribution: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Per event, the cause with the most money at stake behind it (|attributed sales| x
    confidence over its reports) and that cause's highest confidence."""
    r = latest(reports, "report_id")
    r = r.assign(event_id=report_events(r, events).to_numpy())
    a = latest(attribution, "report_id")[["report_id", "proposed_cause", "confidence_score"]]
    r = r.merge(a, on="report_id", how="inner")
    r["weight"] = r["attributed_sales_total"].abs() * r["confidence_score"].fillna(0.0) + 1e-9
    by_cause = r.groupby(["event_id", "proposed_cause"]).agg(weight=("weight", "sum"), confidence=("confidence_score", "max"))
    best = by_cause.sort_values("weight").groupby(level="event_id").tail(1).reset_index()
    return best.rename(columns={"confidence": "confidence_score"})[["event_id", "proposed_cause", "confidence_score"]]
