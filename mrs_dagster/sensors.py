"""Sensors: what replays the pipeline without anyone pressing a button."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
from dagster import (
    AssetCheckKey,
    AssetKey,
    EventLogEntry,
    RunRequest,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    asset_sensor,
    schedule,
    sensor,
)

from mrs_dagster.assets.cohorts import COHORT_PARTITIONS
from mrs_dagster.assets.explain import RECLUSTERED
from mrs_dagster.cohort_resources import CohortSpecs, LakeCatalogBundleLoader
from mrs_dagster.cohorts.catalog import changed_fields, cohorts_to_reevaluate, field_fingerprints
from mrs_dagster.cohorts.membership_builder import DDError
from mrs_dagster.assets.slo_checks import SLO_CHECKS
from mrs_dagster import incremental
from mrs_dagster.hydration import newest_tick
from mrs_dagster.landing import landing_files, read_delivery, read_reference
from mrs_dagster.resources import AlertWebhook, DetectionModels, MRSConfig, ReplayScope
from mrs_dagster.stages.alerts import CheckState, alert_transitions
from mrs_dagster.stages.attribution import reports_covered
from mrs_dagster.stages.hydrate import latest
from mrs_dagster.stages.ingest import parse_sales_rows
from mrs_dagster.stages.review import due_for_review
from mrs_dagster.stages.shards import StoreShard, by_shard
from mrs_dagster.stages.slo import current_reports
from mrs_dagster.stages.versions import recall_start, resend_scope

MAIN_JOB = "mrs_all_assets"
REPLAY_JOB = "mrs_replay"
COHORT_JOB = "mrs_cohort_membership"
RECALL_JOB = "mrs_recall"


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
        yield from _replay_requests(context, scope, stores, since, f"{path.name}:{path.stat().st_mtime_ns}",
                                    {"mrs/trigger": "corrected_feed", "mrs/delivery": path.name})
    context.update_cursor(json.dumps(sorted(seen | {p.name for p in new})))


@sensor(job_name=MAIN_JOB, minimum_interval_seconds=60, description=(
    "Incremental runs from the daemon: watches landing/sales/ and, when deliveries land that supersede "
    "nothing (a new day, a late store), requests one run of every asset scoped from their first tick, "
    "as `mrs run` does; resends are the corrected-feed sensor's."
))
def new_delivery_sensor(context: SensorEvaluationContext, mrs: MRSConfig):
    """New deliveries are those neither this sensor nor a successful `mrs run` (its record,
    `incremental.processed_deliveries`) has seen. They go into one run (one per store shard holding
    their stores when the job is sharded), scoped `since` as `incremental.since_first` says; the
    run's ingestion reads every delivery not yet ingested."""
    lake, run_id = mrs.lake(), mrs.current_run_id()
    seen = set(json.loads(context.cursor)) if context.cursor else set()
    seen |= incremental.processed_deliveries(lake, run_id) or set()
    new = {name: incremental.delivery_cover(path, name, run_id)
           for name, path in incremental.landed_deliveries(mrs.path).items() if name not in seen}
    cursor = json.dumps(sorted(seen | set(new)))
    fresh = {name: cover for name, cover in new.items() if not cover.resends}
    if not fresh:
        return SensorResult(skip_reason=SkipReason("only resends landed: the corrected-feed sensor's" if new
                                                   else "no new delivery in landing/sales/"), cursor=cursor)
    since = incremental.since_first(lake, run_id, [cover.first_tick for cover in fresh.values()])
    stores = sorted(set().union(*(cover.stores for cover in fresh.values())))
    count = _store_shards(context, MAIN_JOB)
    partitions = ([shard.key for shard in by_shard(stores, count)] or [StoreShard(1, count).key]) if count else [None]
    digest = hashlib.sha1(json.dumps(sorted(fresh)).encode()).hexdigest()[:12]
    scope = {"since": since.isoformat()} if since is not None else {}
    return SensorResult(cursor=cursor, run_requests=[RunRequest(
        run_key=f"new_delivery:{digest}:{partition}",
        run_config={"resources": {"scope": {"config": scope}}},
        tags={"mrs/trigger": "new_delivery", "mrs/deliveries": str(len(fresh)),
              "mrs/since": scope.get("since", "all history")},
        partition_key=partition,
    ) for partition in partitions])


@sensor(job_name=REPLAY_JOB, minimum_interval_seconds=60, description=(
    "Seed 001 §10 recall (a): when the deployed baseline or classifier model version (resource "
    "`models`: code version and settings) differs from the newest registered model generation, "
    "requests a replay of the recall window only (the last `recall_days` days, every store), which "
    "registers the new generation and re-evaluates that window under it."
))
def model_recall_sensor(context: SensorEvaluationContext, mrs: MRSConfig, scope: ReplayScope, models: DetectionModels):
    lake, run_id = mrs.lake(), mrs.current_run_id()
    registered = lake.read("model_generations", run_id=run_id).sort_values("generation")
    if registered.empty:
        yield SkipReason("no model generation registered yet: the first run registers the models")
        return
    newest = registered.iloc[-1]
    baseline_version, classifier_version = models.versions()
    if (newest["baseline_model_version"], newest["classifier_model_version"]) == (baseline_version, classifier_version):
        yield SkipReason(f"models unchanged since generation {newest['generation']}")
        return
    since = recall_start(newest_tick(lake, run_id), models.recall_days)
    stores = sorted(lake.read("evaluation_versions", run_id=run_id)["store_id"].unique())
    generation = int(newest["generation"]) + 1
    yield from _replay_requests(context, scope, stores, since, f"model_update:{generation}:{baseline_version}:{classifier_version}",
                                {"mrs/trigger": "model_update", "mrs/generation": str(generation)})


def _replay_requests(context: SensorEvaluationContext, scope: ReplayScope, stores: list[str], since: pd.Timestamp,
                     run_key: str, tags: dict):
    """Replays of `stores` from `since`: when the replay job is store-sharded, one run per shard
    that holds a replayed store, so the other shards are not touched; runs of at most
    `scope.max_stores` stores either way."""
    count = _store_shards(context, REPLAY_JOB)
    groups = by_shard(stores, count) if count else {None: sorted(stores)}
    for shard, shard_stores in groups.items():
        for worklist in scope.worklists(shard_stores):
            yield RunRequest(
                run_key=f"{run_key}:{worklist[0]}",
                run_config={"resources": {"scope": {"config": {"stores": worklist, "since": since.isoformat()}}}},
                tags={**tags, "mrs/stores": ",".join(worklist)},
                partition_key=shard.key if shard else None,
            )


def _store_shards(context: SensorEvaluationContext, job_name: str) -> int:
    """How many store shards the job's partitions are (0: unpartitioned, or no repository to ask)."""
    shards = context.repository_def.get_job(job_name).partitions_def if context.repository_def else None
    return len(shards.get_partition_keys()) if shards else 0


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


def _recall_requests(scope: ReplayScope, report_ids: list[str], trigger: str, key: str):
    """One recall run per worklist of reports."""
    for worklist in scope.worklists(sorted(report_ids), scope.max_reports):
        yield RunRequest(
            run_key=f"{trigger}:{key}:{worklist[0]}",
            run_config={"resources": {"scope": {"config": {"report_ids": worklist}}}},
            tags={"mrs/trigger": trigger, "mrs/reports": str(len(worklist))},
        )


@asset_sensor(asset_key=AssetKey("minority_reports_clustered_log"), job_name=RECALL_JOB, description=(
    "Seed 001 §10 recall (b): when clustering restates reports because their cluster split or merged, "
    "re-evaluates the attribution of exactly those reports."
))
def cluster_recall_sensor(context: SensorEvaluationContext, asset_event: EventLogEntry, scope: ReplayScope):
    metadata = asset_event.dagster_event.event_specific_data.materialization.metadata
    report_ids = metadata[RECLUSTERED].value if RECLUSTERED in metadata else []
    if not report_ids:
        yield SkipReason("no cluster split or merged")
        return
    yield from _recall_requests(scope, report_ids, "cluster_change", asset_event.run_id)


_EVIDENCE = ("campaigns", "context_events")


@sensor(job_name=RECALL_JOB, minimum_interval_seconds=60, description=(
    "Seed 001 §10 recall (c): when a campaign or context event lands after the attribution "
    "(reference/campaigns.csv, reference/context_events.csv change), re-evaluates the attribution of "
    "the reports the new or changed rows cover, and nothing else."
))
def evidence_recall_sensor(context: SensorEvaluationContext, mrs: MRSConfig, scope: ReplayScope):
    seen = set(json.loads(context.cursor)) if context.cursor else None
    try:
        evidence = {name: read_reference(mrs.path, name) for name in _EVIDENCE}
    except ValueError as error:  # a reference file without its required columns is attribution's problem
        yield SkipReason(f"evidence unreadable, nothing recalled: {error}")
        return
    hashes = {name: _row_hashes(frame) for name, frame in evidence.items() if frame is not None}
    now = {h for rows in hashes.values() for h in rows}
    context.update_cursor(json.dumps(sorted(now)))
    if seen is None:
        yield SkipReason("first evaluation: evidence recorded, nothing to recall")
        return
    arrived = {name: evidence[name][[h not in seen for h in rows]] for name, rows in hashes.items()}
    if not any(len(rows) for rows in arrived.values()):
        yield SkipReason("no new campaign or context event")
        return
    lake, run_id = mrs.lake(), mrs.current_run_id()
    reports = latest(lake.read("minority_reports_detected_log", run_id=run_id), "report_id")
    stores, skus = read_reference(mrs.path, "stores"), read_reference(mrs.path, "skus")
    covered = reports_covered(reports, stores, skus, arrived.get("campaigns"), arrived.get("context_events"))
    if not covered:
        yield SkipReason("the new evidence covers no report")
        return
    yield from _recall_requests(scope, covered, "new_evidence", hashlib.sha1("".join(sorted(now)).encode()).hexdigest()[:12])


def _row_hashes(frame: pd.DataFrame) -> list[str]:
    return [hashlib.sha1(json.dumps(row, sort_keys=True).encode()).hexdigest() for row in frame.to_dict("records")]


@schedule(cron_schedule="0 6 * * *", job_name=RECALL_JOB, name="review_reports_scheduler", description=(
    "Seed 001 §10's MVP re-review on a fixed cadence: every morning, re-evaluates the unreviewed "
    "reports with a low or no confidence and those of still-active events whose proposal is over a "
    "day old in data time."
))
def review_reports_scheduler(context: ScheduleEvaluationContext, mrs: MRSConfig, scope: ReplayScope):
    lake, run_id = mrs.lake(), mrs.current_run_id()
    at = newest_tick(lake, run_id)
    reports = current_reports(lake.read("minority_reports_finalised_log", run_id=run_id))
    due = due_for_review(reports, at) if at is not None else []
    if not due:
        return SkipReason("no report due for re-review")
    return list(_recall_requests(scope, due, "review", context.scheduled_execution_time.isoformat()))


@sensor(job_name=COHORT_JOB, minimum_interval_seconds=60, description=(
    "Seed 004's entity.updated flow: registers a partition for every new cohort spec and evaluates it, "
    "and re-evaluates only the dynamic cohorts whose rule fields changed since its last look (an edited "
    "stores.csv or skus.csv, a new combo catalog version, refreshed cohort metrics)."
))
def cohort_reevaluation_sensor(context: SensorEvaluationContext, cohort_specs: CohortSpecs,
                               cohort_catalog: LakeCatalogBundleLoader):
    specs = cohort_specs.specs()
    try:
        frames = cohort_catalog.frames()
    except DDError as error:
        return SkipReason(f"nothing to evaluate cohorts on yet: {error}")
    if not {"stores", "skus"} <= set(frames):
        return SkipReason("reference/stores.csv or skus.csv is missing: cohorts cannot be evaluated")
    fingerprints = field_fingerprints(frames)
    changed = changed_fields(json.loads(context.cursor), fingerprints) if context.cursor else set()
    registered = set(context.instance.get_dynamic_partitions(COHORT_PARTITIONS.name))
    new = [s.cohort_id for s in specs if s.cohort_id not in registered]
    stale = [c for c in cohorts_to_reevaluate(specs, changed) if c not in new]
    digest = hashlib.sha1(json.dumps(fingerprints, sort_keys=True).encode()).hexdigest()[:12]
    requests = [RunRequest(run_key=f"{cohort_id}:{digest}", partition_key=cohort_id, tags={"mrs/trigger": trigger})
                for trigger, ids in (("new_cohort", new), ("fields_changed", stale)) for cohort_id in ids]
    if changed:
        context.log.info(f"changed fields: {', '.join(sorted(changed))}; re-evaluating {', '.join(stale) or 'none'}")
    return SensorResult(
        run_requests=requests, cursor=json.dumps(fingerprints),
        dynamic_partitions_requests=[COHORT_PARTITIONS.build_add_request(new)] if new else [],
    )
