"""Sensors: what replays the pipeline without anyone pressing a button."""

from __future__ import annotations

import json

import pandas as pd
from dagster import AssetCheckKey, AssetKey, RunRequest, SensorEvaluationContext, SkipReason, sensor

from mrs_dagster.assets.slo_checks import SLO_CHECKS
from mrs_dagster.landing import landing_files, read_delivery
from mrs_dagster.resources import AlertWebhook, MRSConfig, ReplayScope
from mrs_dagster.stages.alerts import CheckState, alert_transitions
from mrs_dagster.stages.ingest import parse_sales_rows
from mrs_dagster.stages.versions import resend_scope

REPLAY_JOB = "mrs_replay"


@sensor(job_name=REPLAY_JOB, minimum_interval_seconds=60, description=(
    "Seed 001 §12: watches landing/sales/ and, when a new delivery supersedes earlier rows (a higher "
    "feed_version), requests one replay of detection, clustering, attribution, cohorting, finalisation "
    "and hydrate scoped to the resent stores from the first resent tick."
))
def corrected_feed_sensor(context: SensorEvaluationContext, mrs: MRSConfig, scope: ReplayScope):
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
        resent = resend_scope(rows)
        if resent is None:
            continue
        stores, since = resent
        for worklist in scope.worklists(stores):
            yield RunRequest(
                run_key=f"{path.name}:{path.stat().st_mtime_ns}:{worklist[0]}",
                run_config={"resources": {"scope": {"config": {"stores": worklist, "since": since.isoformat()}}}},
                tags={"mrs/trigger": "corrected_feed", "mrs/delivery": path.name, "mrs/stores": ",".join(worklist)},
            )
    context.update_cursor(json.dumps(sorted(seen | {p.name for p in new})))


ALERTED_CHECKS = [key for check in SLO_CHECKS for key in check.check_keys]


@sensor(minimum_interval_seconds=60, description=(
    "Seed 001 §11 alerting: reads the latest evaluation of every SLO check (data lag, error rate, "
    "attribution coverage, degradation, data gaps) and writes one alerts_log row when a check starts "
    "to breach and one when it passes again, posting each to the alert webhook when one is configured."
))
def slo_alerts_sensor(context: SensorEvaluationContext, mrs: MRSConfig, alert_webhook: AlertWebhook):
    states = [state for key in ALERTED_CHECKS if (state := _latest_state(context, key)) is not None]
    open_breaches = json.loads(context.cursor) if context.cursor else {}
    alerts, still_open = alert_transitions(open_breaches, states, mrs.current_run_id())
    if alerts.empty:
        yield SkipReason(f"{len(still_open)} breach(es) open, nothing changed")
        return
    mrs.lake().append("alerts_log", alerts)
    context.update_cursor(json.dumps(still_open))
    try:
        alert_webhook.post(alerts.to_dict("records"))
    except OSError as error:
        context.log.error(f"alert webhook {alert_webhook.url} failed, alerts are in alerts_log: {error}")
    yield SkipReason(f"{(alerts['status'] == 'raised').sum()} raised, {(alerts['status'] == 'cleared').sum()} cleared")


def _latest_state(context: SensorEvaluationContext, key: AssetCheckKey) -> CheckState | None:
    record = context.instance.get_latest_asset_check_evaluation_record(key)
    evaluation = record.event.dagster_event.event_specific_data if record and record.event and record.event.dagster_event else None
    if evaluation is None or not hasattr(evaluation, "passed"):
        return None
    return CheckState(
        asset=key.asset_key.to_user_string(), check_name=key.name, passed=evaluation.passed,
        severity=evaluation.severity.value,
        detail={k: getattr(v, "value", v) for k, v in evaluation.metadata.items()},
        evaluated_at=pd.Timestamp(record.event.timestamp, unit="s", tz="UTC").floor("us"),
    )
