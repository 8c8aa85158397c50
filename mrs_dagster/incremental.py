"""Incremental runs (`mrs run`): landing one more day costs about a day, not the whole history.

A run is scoped `since` the first tick of the deliveries no successful run has processed yet (the
scope's `since`, as a replay's): ingestion reads only deliveries not yet ingested, each stage reads
its inputs from that tick's day less the history it looks back on (`resources.lake_input`), and
writes rows from that tick on. Every earlier row was written by an earlier run from the same data,
so the logs are those a full replay would write.

Which deliveries were processed is recorded in `<lake>/processed_deliveries.json`, per run_id,
only when every run of `mrs run` succeeded: after a failed run the next one starts again from the
failed run's deliveries, whichever step failed. Without a record (a new lake, an unreadable
record) a run covers all history; with nothing new, the newest day.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mrs_dagster.hydration import newest_tick
from mrs_dagster.lake import Lake
from mrs_dagster.landing import landing_files, read_delivery
from mrs_dagster.stages.ingest import parse_sales_rows
from mrs_dagster.stages.versions import resend_scope

PROCESSED_DELIVERIES = "processed_deliveries.json"


@dataclass(frozen=True)
class RunWindow:
    """What a run covers: the ticks from `since` (None: all history), the deliveries that will
    count as processed once it succeeds, and those it processes (every one, over all history)."""

    since: pd.Timestamp | None
    deliveries: tuple[str, ...]
    new: tuple[str, ...]


def plan_run(data_dir: Path, lake: Lake, run_id: str, full: bool = False) -> RunWindow:
    """The window of the next run over `data_dir` (`full`: all history, whatever was processed)."""
    landed = landed_deliveries(data_dir)
    processed = None if full else processed_deliveries(lake, run_id)
    if processed is None:
        return RunWindow(None, tuple(landed), tuple(landed))
    new = tuple(name for name in landed if name not in processed)
    return RunWindow(since_first(lake, run_id, [delivery_cover(landed[name], name, run_id).first_tick for name in new]),
                     tuple(landed), new)


def landed_deliveries(data_dir: Path) -> dict[str, Path]:
    """The landed deliveries by their path relative to the data dir (as the record names them)."""
    return {path.relative_to(data_dir).as_posix(): path for path in landing_files(data_dir)}


@dataclass(frozen=True)
class DeliveryCover:
    """What a delivery's valid rows cover: their first tick (None without any, or for an unreadable
    delivery: ingestion dead-letters it), their stores, and whether they supersede earlier rows."""

    first_tick: pd.Timestamp | None
    stores: frozenset[str]
    resends: bool


def delivery_cover(path: Path, name: str, run_id: str) -> DeliveryCover:
    """What the delivery at `path` (`name`, relative to the data dir) covers; its rows are not kept."""
    try:
        rows, _ = parse_sales_rows(read_delivery(path), name, run_id)
    except Exception:  # an unreadable delivery is ingestion's dead letter, not a window
        return DeliveryCover(None, frozenset(), False)
    return DeliveryCover(rows["ts"].min() if len(rows) else None, frozenset(rows["store_id"].unique()),
                         resend_scope(rows) is not None)


def since_first(lake: Lake, run_id: str, firsts: list[pd.Timestamp | None]) -> pd.Timestamp | None:
    """The `since` of a run over new deliveries whose first valid ticks are `firsts` (None for a
    delivery without any): the earliest; when none has a valid tick, the newest day, so that the
    run dead-letters them; None (all history) when nothing was landed before either."""
    valid = [first for first in firsts if first is not None]
    if valid:
        return min(valid)
    newest = newest_tick(lake, run_id)
    return newest.floor("D") if newest is not None else None


def processed_deliveries(lake: Lake, run_id: str) -> set[str] | None:
    """The deliveries successful runs of `run_id` processed; None without a readable record."""
    try:
        record = json.loads((lake.lake_dir / PROCESSED_DELIVERIES).read_text())
        deliveries = record[run_id]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return set(deliveries) if isinstance(deliveries, list) else None


def record_processed(lake: Lake, run_id: str, deliveries: tuple[str, ...]) -> None:
    """Record, after a successful run, the deliveries it processed (written aside, then renamed)."""
    path = lake.lake_dir / PROCESSED_DELIVERIES
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        record = {}
    record = record if isinstance(record, dict) else {}
    record[run_id] = sorted(deliveries)
    staged = path.with_suffix(".json.partial")
    staged.write_text(json.dumps(record, indent=1))
    staged.replace(path)
