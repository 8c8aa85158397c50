"""Reading the logs behind consolidation, deciding which are down, for MRFL and hydrate (I/O)."""

from __future__ import annotations

import pandas as pd

from mrs_dagster.contracts import MINORITY_REPORTS_COHORTED_LOG
from mrs_dagster.lake import Lake, dataset
from mrs_dagster.stages.finalisation import ReportLogs, finalise_reports
from mrs_dagster.stages.hydrate import hydrate_events

_MACHINE_LOGS = {
    "clustered": "minority_reports_clustered_log",
    "attribution": "minority_reports_proposed_attribution_log",
    "cohorted": "minority_reports_cohorted_log",
}
_EDITS_LOGS = {"report_edits": "user_edits_log", "event_edits": "user_minority_events_edits_log"}


def newest_tick(lake: Lake, run_id: str) -> pd.Timestamp | None:
    """The newest tick of the run's sales data: how far the data has come (the re-evaluation tick)."""
    return lake.newest("sales_timeseries_data", "ts", run_id)


def _read(lake: Lake, name: str, run_id: str, as_of) -> pd.DataFrame | None:
    """The log's rows, or None when it is down: never written, or unreadable."""
    try:
        return lake.read(name, run_id=run_id, as_of=as_of) if lake.exists(name) else None
    except Exception:  # an unreadable log is a down log, never a failed hydrate (seed 001 §7)
        return None


def read_report_logs(
    lake: Lake, run_id: str, as_of: pd.Timestamp | str | None = None, down: set[str] = frozenset()
) -> ReportLogs:
    """The logs for consolidation. A machine log is down when missing, unreadable, or empty while
    reports exist; an edits log only when unreadable (missing or empty: nobody has edited yet);
    any log named in `down` (fault injection) is down."""
    detected = lake.read("minority_reports_detected_log", run_id=run_id, as_of=as_of)
    logs = {}
    for field, name in _MACHINE_LOGS.items():
        frame = _read(lake, name, run_id, as_of)
        logs[field] = None if frame is None or (frame.empty and not detected.empty) else frame
    logs["ended"] = _read(lake, "minority_events_ended_log", run_id, as_of)
    for field, name in _EDITS_LOGS.items():
        logs[field] = _read(lake, name, run_id, as_of) if lake.exists(name) else dataset(name).empty()
    for field, name in {**_MACHINE_LOGS, **_EDITS_LOGS, "ended": "minority_events_ended_log"}.items():
        if name in down:
            logs[field] = None
    return ReportLogs(detected=detected, **logs, versions=lake.read("evaluation_versions", run_id=run_id))


def hydrate(
    lake: Lake, run_id: str, as_of: pd.Timestamp | str | None = None, down: set[str] = frozenset()
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(minority_reports, minority_events) as of `as_of` (default: now), with the logs in `down`
    treated as down."""
    logs = read_report_logs(lake, run_id, as_of, down)
    reports = finalise_reports(logs, run_id)
    current = logs.current()
    cohorted = current.cohorted if current.cohorted is not None else MINORITY_REPORTS_COHORTED_LOG.empty()
    assignments = lake.read("event_assignments_log", run_id=run_id, as_of=as_of)
    return reports, hydrate_events(reports, cohorted, logs.event_edits, run_id, assignments)
