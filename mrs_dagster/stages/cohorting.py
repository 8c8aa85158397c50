"""Cohorting (seed 000): minority reports grouped into events per store by log replay.

Reports of a store whose ticks lie within `gap_threshold` of the event's `window_end` join it;
a later report starts a new event with `report_id = hash(store_id || first_detected_from)`.
An event ends `closure_after` past its `window_end` with no new report, once the store's data
reaches that time (its watermark); the closure is written at that tick.

Defaults reproduce the seed's Store 327 narrative: reports at 11:55, 12:00, 12:05 form one event;
with a 30-minute gap, no report through 12:35 means nothing more joins; the event ends at 13:05,
`closure_after` = 60 minutes after `window_end`.

Event state at each tick: severity is the highest severity so far; baseline and attributed
totals are the sums of each constituent report's latest totals; `impact_estimate` is the sum of
their absolute attributed totals (money at stake, gained or lost); `version` is the store's
evaluation version at the tick (stages.versions). Stateless and deterministic: the same MRDL always gives the
same rows.

A re-evaluation can leave an event with no report at all: `correction_closures` ends it with
`resolution_reason = 'data correction'` (a corrected resend) or `'model update'` (a new model
generation) and zero totals, written at the event's last tick under the new evaluation version, so
the old rows stay as the audit trail and a replay writes nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mrs_dagster.stages.hydrate import latest
from mrs_dagster.stages.identity import stable_id
from mrs_dagster.stages.versions import reevaluation_reason, steps_at, version_at

RESOLUTION_NO_NEW_REPORTS = "no new reports"


@dataclass(frozen=True)
class CohortingParams:
    gap_threshold: pd.Timedelta = pd.Timedelta(minutes=30)
    closure_after: pd.Timedelta = pd.Timedelta(minutes=60)


@dataclass(frozen=True)
class CohortingResult:
    cohorted: pd.DataFrame  # minority_reports_cohorted_log
    events: pd.DataFrame  # minority_event_log
    ended: pd.DataFrame  # minority_events_ended_log


_STATE = ["store_id", "first_detected_from", "window_start", "window_end", "severity_score", "impact_estimate",
          "baseline_sales_total", "attributed_sales_total", "event_status"]


def cohort_reports(
    detected: pd.DataFrame,
    watermarks: pd.Series,
    run_id: str,
    params: CohortingParams = CohortingParams(),
    *,
    versions: pd.DataFrame | None = None,
) -> CohortingResult:
    """MRCH, MELOG and MEEL rows from current MRDL rows. `watermarks`: per store_id, the last tick
    its data covers; `versions`: the stores' evaluation versions (None: never re-evaluated). Stores never
    mix, so any subset of stores (a partition) gives that subset's rows."""
    snap = event_snapshots(detected, watermarks, params)
    if versions is not None:
        snap = snap.assign(version=version_at(snap, versions))
    return _logs(snap, run_id)


def correction_closures(
    cohorted_log: pd.DataFrame, current_event_ids: pd.Series, versions: pd.DataFrame, run_id: str
) -> CohortingResult:
    """Closures of the events in `cohorted_log` (MRCH as written so far) that the current
    evaluation no longer has (not in `current_event_ids`) and whose history has since been
    re-evaluated, with why (`stages.versions.reevaluation_reason`)."""
    gone = cohorted_log[~cohorted_log["report_id"].isin(current_event_ids)]
    last = latest(gone, "report_id")
    now = steps_at(last, versions)
    reevaluated = now["version"].to_numpy() > last["version"].to_numpy()
    reason = reevaluation_reason(last["version"].to_numpy(), now)[reevaluated]
    zero = {c: 0.0 for c in ("severity_score", "impact_estimate", "baseline_sales_total", "attributed_sales_total")}
    closed = last[reevaluated].assign(version=now["version"].to_numpy()[reevaluated], event_status="ended", **zero)
    closed = closed[["report_id", *_STATE, "written_at", "version"]]
    created_at = gone.groupby("report_id")["written_at"].min()
    return CohortingResult(
        closed.assign(run_id=run_id),
        _event_rows(closed, created_at, run_id),
        _ended_rows(closed, reason, run_id),
    )


def event_snapshots(reports: pd.DataFrame, watermarks: pd.Series, params: CohortingParams = CohortingParams()) -> pd.DataFrame:
    """A row per event per tick with reports, plus each closed event's closure row."""
    r = reports.sort_values(["store_id", "written_at", "report_id"], kind="stable").reset_index(drop=True)
    if r.empty:
        return _empty_snapshots()
    ticks = r["written_at"]
    new_store = r["store_id"].ne(r["store_id"].shift())
    event_no = (new_store | (ticks.diff() > params.gap_threshold)).cumsum()

    # Event totals at a tick = sum of each report's latest (cumulative) totals: add per-report deltas.
    by_report = r.groupby("report_id", sort=False)
    abs_attributed = r["attributed_sales_total"].abs()
    deltas = pd.DataFrame(
        {
            "event_no": event_no,
            "written_at": ticks,
            "baseline_sales_total": r["baseline_sales_total"] - by_report["baseline_sales_total"].shift(fill_value=0.0),
            "attributed_sales_total": r["attributed_sales_total"]
            - by_report["attributed_sales_total"].shift(fill_value=0.0),
            "impact_estimate": abs_attributed - abs_attributed.groupby(r["report_id"]).shift(fill_value=0.0),
            "severity_score": r["severity_score"],
            "version": r["version"],
        }
    )
    per_tick = deltas.groupby(["event_no", "written_at"], sort=True).agg(
        baseline_sales_total=("baseline_sales_total", "sum"),
        attributed_sales_total=("attributed_sales_total", "sum"),
        impact_estimate=("impact_estimate", "sum"),
        severity_score=("severity_score", "max"),
        version=("version", "max"),
    )
    per_event = per_tick.groupby(level="event_no")
    snap = pd.DataFrame(
        {
            "baseline_sales_total": per_event["baseline_sales_total"].cumsum(),
            "attributed_sales_total": per_event["attributed_sales_total"].cumsum(),
            "impact_estimate": per_event["impact_estimate"].cumsum(),
            "severity_score": per_event["severity_score"].cummax(),
            "version": per_event["version"].cummax(),
        }
    ).reset_index()
    firsts = r.groupby(event_no, sort=True).agg(store_id=("store_id", "first"), first_detected_from=("written_at", "first"))
    firsts["report_id"] = [stable_id(s, t) for s, t in zip(firsts["store_id"], firsts["first_detected_from"])]
    snap = snap.join(firsts, on="event_no")
    snap["window_start"] = snap["first_detected_from"]
    snap["window_end"] = snap["written_at"]
    snap["event_status"] = "active"

    last = snap.drop_duplicates("event_no", keep="last")
    closes_at = last["window_end"] + params.closure_after
    closed = last[(closes_at <= last["store_id"].map(watermarks)).to_numpy()]
    closures = closed.assign(written_at=closed["window_end"] + params.closure_after, event_status="ended")
    return pd.concat([snap, closures], ignore_index=True).drop(columns="event_no")


def _empty_snapshots() -> pd.DataFrame:
    return pd.DataFrame(columns=["report_id", *_STATE, "written_at", "version"])


def _logs(snap: pd.DataFrame, run_id: str) -> CohortingResult:
    snap = snap.sort_values(["store_id", "written_at", "report_id"], kind="stable").reset_index(drop=True)
    cohorted = snap[["report_id", *_STATE, "written_at", "version"]].assign(run_id=run_id)

    created = snap.groupby("report_id", sort=False).head(1)
    ended = snap[snap["event_status"] == "ended"]
    created_at = created.set_index("report_id")["written_at"]
    events = _event_rows(pd.concat([created, ended]), created_at, run_id)
    return CohortingResult(cohorted, events, _ended_rows(ended, RESOLUTION_NO_NEW_REPORTS, run_id))


def _event_rows(snap: pd.DataFrame, created_at: pd.Series, run_id: str) -> pd.DataFrame:
    """MELOG rows for creation and closure snapshots (`created_at` by event)."""
    events = snap.assign(
        event_id=snap["report_id"],
        created_at=snap["report_id"].map(created_at),
        finalized_at=snap["written_at"].where(snap["event_status"].eq("ended")),
        run_id=run_id,
    )
    events = events[["event_id", *_STATE, "created_at", "finalized_at", "written_at", "version", "run_id"]]
    return events.sort_values(["store_id", "written_at"], kind="stable")


def _ended_rows(ended: pd.DataFrame, reason: str | np.ndarray, run_id: str) -> pd.DataFrame:
    """MEEL rows for closure snapshots (`reason`: one for all, or per row of `ended`)."""
    return pd.DataFrame(
        {
            "event_id": ended["report_id"],
            "store_id": ended["store_id"],
            "window_start": ended["window_start"],
            "window_end": ended["window_end"],
            "finalized_at": ended["written_at"],
            "resolution_reason": reason,
            "written_at": ended["written_at"],
            "version": ended["version"],
            "run_id": run_id,
        }
    )


def store_watermarks(summary: pd.DataFrame) -> pd.Series:
    """The last tick (`ts`) each store's current series covers, from its daily summary
    (`stages.ingest.daily_summary`)."""
    return summary.groupby("store_id")["last_ts"].max().rename("ts")
