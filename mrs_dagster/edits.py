"""Recording an analyst's edit: the one path `mrs edit` and the review console both write through."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mrs_dagster.lake import Lake
from mrs_dagster.landing import read_reference
from mrs_dagster.stages.edits import edit_row
from mrs_dagster.stages.hydrate import latest

EDIT_TARGETS = {  # kind: (edits log, id column, the log whose latest rows are the editable ids)
    "report": ("user_edits_log", "report_id", "minority_reports_detected_log"),
    "event": ("user_minority_events_edits_log", "event_id", "minority_event_log"),
}


def record_edit(data_dir: Path, run_id: str, kind: str, target_id: str, analyst_id: str, verdict: str | None,
                cause: str | None, note: str | None) -> pd.DataFrame:
    """Validate and append one edit of a report or event (`kind`); returns the row written.

    Raises stages.edits.EditRefused (a ValueError) naming every problem; then nothing is written."""
    log, id_column, source = EDIT_TARGETS[kind]
    lake = Lake(data_dir / "lake")
    targets = latest(lake.read(source, run_id=run_id), id_column)
    match = targets[targets[id_column] == target_id]
    row = edit_row(match.iloc[0] if len(match) else None, id_column, read_reference(data_dir, "analysts"),
                   analyst_id, verdict, cause, note, pd.Timestamp.now(tz="UTC"), run_id)
    lake.append(log, row)
    return row
