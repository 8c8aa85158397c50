"""Assigning a cohort's open minority events to analysts (I/O around `cohorts.assignment`): inline
below 100 events, else a CAJ-N job run by Dagster and tracked in `cohort_assignment_jobs_log`."""

from __future__ import annotations

import json

import pandas as pd

from mrs_dagster.cohort_resources import CohortSpecs
from mrs_dagster.cohorts.assignment import (
    PROGRESS_EVERY,
    AssignmentPlan,
    AssignmentRefused,
    assigned_today,
    assignment_rows,
    checked_analysts,
    cohort_open_events,
    next_job_id,
    plan_assignment,
)
from mrs_dagster.cohorts.membership import current_members
from mrs_dagster.contracts import COHORT_ASSIGNMENT_JOBS_LOG
from mrs_dagster.landing import read_reference
from mrs_dagster.resources import MRSConfig


def now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def open_events(mrs: MRSConfig, specs: CohortSpecs, cohort_id: str) -> pd.DataFrame:
    """The cohort's active events not yet assigned (raises DDError for an unknown cohort)."""
    spec = specs.get(cohort_id)
    lake, run_id = mrs.lake(), mrs.current_run_id()
    _, members = current_members(lake.read("cohort_membership_log", run_id=run_id), cohort_id)
    assigned = lake.read("event_assignments_log", run_id=run_id)["event_id"]
    return cohort_open_events(lake.read("minority_events", run_id=run_id), spec.entity_scope, members, assigned)


def plan(mrs: MRSConfig, events: pd.DataFrame, analyst_ids: list[str], strategy: str, at: pd.Timestamp) -> AssignmentPlan:
    """Who takes which event; raises AssignmentRefused (nothing assigned) for bad analysts."""
    capacity = checked_analysts(read_reference(mrs.path, "analysts"), analyst_ids, strategy)
    today = assigned_today(mrs.lake().read("event_assignments_log", run_id=mrs.current_run_id()), at)
    return plan_assignment(events, capacity, today, strategy)


def assign(mrs: MRSConfig, cohort_id: str, assignments: pd.DataFrame, strategy: str, job_id: str | None,
           at: pd.Timestamp) -> tuple[int, list[dict]]:
    """Append `assignments`; (assigned, failures): an event assigned meanwhile is a failure."""
    lake, run_id = mrs.lake(), mrs.current_run_id()
    taken = set(lake.read("event_assignments_log", run_id=run_id)["event_id"])
    failed = assignments["event_id"].isin(taken)
    rows = assignment_rows(assignments[~failed], cohort_id, strategy, job_id, at, run_id)
    appended = lake.append("event_assignments_log", rows)
    return appended, [{"event_id": e, "error": "already assigned"} for e in assignments.loc[failed, "event_id"]]


def _job_row(job: dict, status: str, at: pd.Timestamp, **counts) -> dict:
    return {**job, **counts, "status": status, "written_at": at}


def queue_job(mrs: MRSConfig, cohort_id: str, analyst_ids: list[str], strategy: str, total: int) -> str:
    """Record a new CAJ-N job as queued; returns its id."""
    lake, run_id = mrs.lake(), mrs.current_run_id()
    job_id = next_job_id(lake.read("cohort_assignment_jobs_log", run_id=run_id)["job_id"])
    job = {"job_id": job_id, "cohort_id": cohort_id, "strategy": strategy, "analyst_ids": ",".join(analyst_ids),
           "total": total, "processed": 0, "assigned_count": 0, "failed_count": 0, "unassigned_count": 0,
           "failures": "[]", "dagster_run_id": None, "run_id": run_id}
    lake.append("cohort_assignment_jobs_log", pd.DataFrame([_job_row(job, "queued", now())]))
    return job_id


def job_state(mrs: MRSConfig, job_id: str) -> dict | None:
    """The newest row of job `job_id`, or None."""
    rows = mrs.lake().read("cohort_assignment_jobs_log", run_id=mrs.current_run_id())
    rows = rows[rows["job_id"] == job_id]
    if rows.empty:
        return None
    stage = rows["status"].map({"queued": 0, "running": 1, "completed": 2, "failed": 2})
    newest = rows.assign(_stage=stage).sort_values(["written_at", "processed", "_stage"]).iloc[-1].drop("_stage")
    return newest.astype(object).where(newest.notna(), None).to_dict()  # NULL as None: the state is printed as JSON


def run_job(mrs: MRSConfig, specs: CohortSpecs, job_id: str, dagster_run_id: str) -> dict:
    """Run a queued job: plan, assign 10 events at a time with a progress row after each batch,
    then a completed (or failed) row. Returns the final state."""
    state = job_state(mrs, job_id)
    if state is None or state["status"] != "queued":
        raise AssignmentRefused(f"job {job_id} is {'unknown' if state is None else state['status']}: only a queued job runs")
    lake = mrs.lake()
    job = {k: state[k] for k in COHORT_ASSIGNMENT_JOBS_LOG.columns if k not in ("status", "written_at")}
    job["dagster_run_id"] = dagster_run_id

    def record(status: str, **counts) -> dict:
        row = _job_row(job, status, now(), **counts)
        lake.append("cohort_assignment_jobs_log", pd.DataFrame([row]))
        return row

    record("running")
    counts = {"processed": 0, "assigned_count": 0, "failed_count": 0, "unassigned_count": 0, "failures": "[]"}
    try:
        events = open_events(mrs, specs, job["cohort_id"])
        planned = plan(mrs, events, job["analyst_ids"].split(","), job["strategy"], now())
        failures: list[dict] = []
        for start in range(0, len(planned.assignments), PROGRESS_EVERY):
            batch = planned.assignments.iloc[start:start + PROGRESS_EVERY]
            appended, failed = assign(mrs, job["cohort_id"], batch, job["strategy"], job_id, now())
            failures += failed
            counts.update(processed=start + len(batch), assigned_count=counts["assigned_count"] + appended,
                          failed_count=len(failures), failures=json.dumps(failures))
            record("running", **counts)
        counts["unassigned_count"] = len(planned.unassigned)
        return record("completed", **counts)
    except Exception as error:
        counts["failures"] = json.dumps([*json.loads(counts["failures"]), {"event_id": None, "error": str(error)}])
        record("failed", **counts)
        raise
