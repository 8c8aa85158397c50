"""Hydrate: current state derived from the logs, never stored by hand (seed 001 §1)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def latest(log: pd.DataFrame, key: str) -> pd.DataFrame:
    """The latest row by `written_at`, then data `version`, per `key` (a tie keeps the later row of
    `log`)."""
    order = ["written_at", "version"] if "version" in log.columns else ["written_at"]
    return log.sort_values(order, kind="stable").drop_duplicates(key, keep="last")


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


def hydrate_events(reports: pd.DataFrame, cohorted: pd.DataFrame, event_edits: pd.DataFrame | None,
                   run_id: str, assignments: pd.DataFrame | None = None) -> pd.DataFrame:
    """minority_events: one row per event from its latest MRCH state and its consolidated reports.

    The machine's `proposed_cause` is the cause with the most money at stake behind it
    (|attributed sales| x confidence over the event's reports); `cause` is the analyst's event
    override if any, else that proposal. The cluster is the one most of the event's reports share.
    An analyst's decision (verdict, note) comes from the event's own edits; `assigned_to` from
    `assignments` (event_assignments_log: an event is assigned once)."""
    events = latest(cohorted, "report_id").rename(columns={"report_id": "event_id"}).set_index("event_id")
    r = reports.dropna(subset=["event_id"])
    weighted = r.assign(weight=r["attributed_sales_total"].abs() * r["confidence_score"].astype(float).fillna(0.0) + 1e-9)
    proposal = (
        weighted.dropna(subset=["proposed_cause"])
        .groupby(["event_id", "proposed_cause"])
        .agg(weight=("weight", "sum"), confidence_score=("confidence_score", "max"))
        .sort_values("weight")
        .groupby(level="event_id")
        .tail(1)
        .reset_index(level="proposed_cause")
    )
    per_event = r.groupby("event_id").agg(
        report_count=("report_id", "nunique"),
        skus=("sku", lambda s: ",".join(sorted(set(s)))),
        cluster_id=("cluster_id", lambda s: s.mode().iat[0] if s.notna().any() else None),
        resolution_reason=("resolution_reason", "first"),
        is_degraded=("is_degraded", "any"),
        degraded_reasons=("degraded_reasons", lambda s: ",".join(sorted({c for v in s for c in v.split(",") if c}))),
    )
    events["created_at"] = events["first_detected_from"]
    events["finalized_at"] = events["written_at"].where(events["event_status"].eq("ended"))
    out = events.join(per_event).join(proposal[["proposed_cause", "confidence_score"]])
    decision = _latest_edit(event_edits)
    out = out.join(decision)
    out["cause"] = out["cause_override"].where(out["cause_override"].notna(), out["proposed_cause"])
    out["source_used_cause"] = np.select(
        [out["cause_override"].notna(), out["proposed_cause"].notna()], ["ui", "attribution"], None
    )
    out["source_used_review"] = np.where(out["edited_at"].notna(), "ui", None)
    out["written_at"] = pd.concat([out["written_at"], out["edited_at"]], axis=1).max(axis=1)
    out["is_degraded"] = out["is_degraded"].fillna(False).astype(bool)
    out["degraded_reasons"] = out["degraded_reasons"].fillna("")
    assigned = assignments.set_index("event_id")["analyst_id"] if assignments is not None else pd.Series(dtype=object)
    out["assigned_to"] = assigned.reindex(out.index).astype(object).where(lambda a: a.notna(), None)
    return out.reset_index().drop(columns=["cause_override", "edited_at", "run_id", "version"]).assign(run_id=run_id)


def event_sku_rows(events: pd.DataFrame) -> pd.DataFrame:
    """Hydrated `events` with one row per event and SKU (`sku`, from the comma-joined `skus`)."""
    return events.assign(sku=events["skus"].fillna("").str.split(",")).explode("sku")


def _latest_edit(event_edits: pd.DataFrame | None) -> pd.DataFrame:
    """Per event, each edit field's latest non-NULL value and when it was last edited."""
    fields = ["verdict", "cause_override", "note", "analyst_id"]
    if event_edits is None or event_edits.empty:
        empty = {f: pd.Series(dtype=object) for f in fields} | {"edited_at": pd.Series(dtype="datetime64[ns, UTC]")}
        return pd.DataFrame(empty).rename_axis("event_id")
    ordered = event_edits.sort_values("written_at", kind="stable").rename(columns={"written_at": "edited_at"})
    return ordered.groupby("event_id")[[*fields, "edited_at"]].last()
