"""Sensors: what replays the pipeline without anyone pressing a button."""

from __future__ import annotations

import json

from dagster import RunRequest, SensorEvaluationContext, SkipReason, sensor

from mrs_dagster.landing import landing_files, read_delivery
from mrs_dagster.resources import MRSConfig
from mrs_dagster.stages.ingest import parse_sales_rows
from mrs_dagster.stages.versions import resend_scope

REPLAY_JOB = "mrs_replay"


@sensor(job_name=REPLAY_JOB, minimum_interval_seconds=60, description=(
    "Seed 001 §12: watches landing/sales/ and, when a new delivery supersedes earlier rows (a higher "
    "feed_version), requests one replay of detection, clustering, attribution, cohorting, finalisation "
    "and hydrate scoped to the resent stores from the first resent tick."
))
def corrected_feed_sensor(context: SensorEvaluationContext, mrs: MRSConfig):
    seen = set(json.loads(context.cursor)) if context.cursor else set()
    new = [path for path in landing_files(mrs.path) if path.name not in seen]
    if not new:
        yield SkipReason("no new delivery in landing/sales/")
        return
    for path in new:
        try:
            rows, _ = parse_sales_rows(read_delivery(path), path.name, mrs.current_run_id())
        except Exception as error:  # an unreadable file is ingestion's dead letter, not a replay
            context.log.warning(f"{path.name}: unreadable, not a correction: {error}")
            continue
        scope = resend_scope(rows)
        if scope is None:
            continue
        stores, since = scope
        yield RunRequest(
            run_key=f"{path.name}:{path.stat().st_mtime_ns}",
            run_config={"resources": {"scope": {"config": {"stores": stores, "since": since.isoformat()}}}},
            tags={"mrs/trigger": "corrected_feed", "mrs/delivery": path.name, "mrs/stores": ",".join(stores)},
        )
    context.update_cursor(json.dumps(sorted(seen | {p.name for p in new})))
