"""Analysts' edits: validated before anything is written, so a refused edit writes nothing."""

from __future__ import annotations

import pandas as pd

from mrs_dagster.contracts import CAUSES, VERDICTS
from mrs_dagster.stages.identity import stable_id
from mrs_dagster.stages.reference import active


class EditRefused(ValueError):
    """An edit that must not be written; the message says every reason."""


def edit_row(
    target: pd.Series,
    id_column: str,
    analysts: pd.DataFrame | None,
    analyst_id: str,
    verdict: str | None,
    cause_override: str | None,
    note: str | None,
    written_at: pd.Timestamp,
    run_id: str,
) -> pd.DataFrame:
    """One edits-log row for `target` (the report's or event's latest row, or None if unknown).

    Raises EditRefused naming every problem: an unknown id, an unknown or inactive analyst, an
    unknown cause or verdict, or an edit that changes nothing."""
    problems = []
    if target is None:
        problems.append(f"unknown {id_column.removesuffix('_id')} id")
    if analysts is None:
        problems.append("reference/analysts.csv is missing: no analyst can be checked")
    else:
        is_active = active(analysts).set_axis(analysts["analyst_id"])
        if analyst_id not in is_active.index:
            problems.append(f"unknown analyst {analyst_id!r}")
        elif not is_active[analyst_id]:
            problems.append(f"analyst {analyst_id!r} is not active")
    if cause_override is not None and cause_override not in CAUSES:
        problems.append(f"unknown cause {cause_override!r} (one of: {', '.join(CAUSES)})")
    if verdict is not None and verdict not in VERDICTS:
        problems.append(f"unknown verdict {verdict!r} (one of: {', '.join(VERDICTS)})")
    if verdict is None and cause_override is None and not note:
        problems.append("nothing to record: give a verdict, a cause or a note")
    if problems:
        raise EditRefused("; ".join(problems))
    row = {
        "edit_id": stable_id(target[id_column], analyst_id, written_at),
        id_column: target[id_column],
        "store_id": target["store_id"],
        **({"sku": target["sku"]} if "sku" in target else {}),
        "analyst_id": analyst_id,
        "verdict": verdict,
        "cause_override": cause_override,
        "note": note,
        "written_at": written_at,
        "run_id": run_id,
    }
    return pd.DataFrame([row])
