"""The MRS Dagster code location: every asset, the lake IO manager and the main job."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from dagster import (
    AssetSelection,
    AssetsDefinition,
    Definitions,
    FreshnessPolicy,
    PartitionsDefinition,
    apply_freshness_policy,
    define_asset_job,
)

from mrs_dagster.assets.cohorting import minority_reports_cohorted_log
from mrs_dagster.assets.cohorts import (
    COHORT_LOGS,
    cohort_assignment_job,
    cohort_membership,
    cohort_metrics,
    combo_catalog,
)
from mrs_dagster.assets.config import demo_run_config
from mrs_dagster.assets.contract_checks import LOG_CHECKS
from mrs_dagster.assets.slo_checks import SLO_CHECKS
from mrs_dagster.assets.health import alerts_log, health
from mrs_dagster.assets.detection import (
    anomaly_classifier_model_prediction_log,
    baseline_sales_model_prediction_log,
    evaluation_versions,
    minority_reports_detected_log,
    model_generations,
)
from mrs_dagster.assets.explain import minority_reports_clustered_log, minority_reports_proposed_attribution_log
from mrs_dagster.assets.insights import dashboard, insights, segment_trends
from mrs_dagster.assets.ingest import (
    landing_sales,
    reference_data,
    sales_daily_summary,
    sales_timeseries_data,
    unified_sales_data,
)
from mrs_dagster.assets.review import EDITS_LOGS, hydrated_views, minority_reports_finalised_log
from mrs_dagster.cohort_resources import (
    CohortSpecs,
    LakeCatalogBundleLoader,
    LakeMembershipStore,
    LakeRegistryFactory,
    default_cohorts_dir,
)
from mrs_dagster.engines import StageEngine
from mrs_dagster.partitions import SHARDED_LOGS, store_shard_count
from mrs_dagster.partitions import store_shards as store_shards_def
from mrs_dagster.resources import (
    AlertWebhook,
    DetectionModels,
    LakeIOManager,
    MRSConfig,
    ReplayScope,
    RunMode,
    default_data_dir,
)
from mrs_dagster.sensors import (
    COHORT_JOB,
    MAIN_JOB,
    RECALL_JOB,
    REPLAY_JOB,
    cluster_recall_sensor,
    cohort_reevaluation_sensor,
    corrected_feed_sensor,
    evidence_recall_sensor,
    model_recall_sensor,
    new_delivery_sensor,
    review_reports_scheduler,
    slo_alerts_sensor,
)
from mrs_dagster.stages.shards import StoreShard

INSIGHTS_JOB = "mrs_insights"
RECALLED = ["minority_reports_proposed_attribution_log", "minority_reports_finalised_log", "minority_reports",
            "minority_events"]

# Wall-clock freshness (seed 001 §11): warn past the SLO, fail when a whole day has gone by.
FRESHNESS = {
    group: FreshnessPolicy.time_window(warn_window=warn, fail_window=timedelta(days=1))
    for groups, warn in ((("ingest", "detection"), timedelta(minutes=30)),
                         (("cohorting", "explain", "review", "cohorts", "insights"), timedelta(hours=4)))
    for group in groups
}


def _with_freshness(asset):
    if not isinstance(asset, AssetsDefinition):
        return asset
    return asset.map_asset_specs(
        lambda spec: apply_freshness_policy(spec, FRESHNESS[spec.group_name]) if spec.group_name in FRESHNESS else spec
    )


def _sharded(asset, partitions_def: PartitionsDefinition | None):
    if partitions_def is None or not isinstance(asset, AssetsDefinition) or not any(
            key.path[-1] in SHARDED_LOGS for key in asset.keys):
        return asset
    return asset.map_asset_specs(lambda spec: spec.replace_attributes(partitions_def=partitions_def))

ASSETS = [
    landing_sales,
    reference_data,
    demo_run_config,
    unified_sales_data,
    sales_timeseries_data,
    sales_daily_summary,
    model_generations,
    evaluation_versions,
    baseline_sales_model_prediction_log,
    anomaly_classifier_model_prediction_log,
    minority_reports_detected_log,
    minority_reports_cohorted_log,
    minority_reports_clustered_log,
    minority_reports_proposed_attribution_log,
    *EDITS_LOGS,
    minority_reports_finalised_log,
    hydrated_views,
    combo_catalog,
    cohort_metrics,
    health,
    alerts_log,
    insights,
    segment_trends,
    dashboard,
]
# One partition per cohort: materialized by its own job, never with the unpartitioned graph.
PIPELINE = AssetSelection.all() - AssetSelection.assets(cohort_membership)
SHARDED = AssetSelection.assets(*SHARDED_LOGS)
# A run of the whole graph over store shards (`mrs run`, `launch.run_staged`): what feeds the
# shards, then every shard, then what needs every store.
BEFORE_SHARDS = (SHARDED.upstream() - SHARDED).required_multi_asset_neighbors()
AFTER_SHARDS = PIPELINE - BEFORE_SHARDS - SHARDED


def pipeline_stages(store_shards: int) -> list[tuple[AssetSelection, list[str | None]]]:
    """The graph as the runs that materialize it in order: (assets, partition keys), None for an
    unpartitioned run. Without store shards, one run."""
    if not store_shards:
        return [(PIPELINE, [None])]
    return [(BEFORE_SHARDS, [None]), (SHARDED, [shard.key for shard in StoreShard.all(store_shards)]),
            (AFTER_SHARDS, [None])]


def build_resources(
    data_dir: Path | str | None = None, run_id: str | None = None, models: DetectionModels | None = None,
    cohorts_dir: Path | str | None = None, engine: StageEngine | None = None,
) -> dict:
    """The resources; `models`: the detection models' settings (default: the code's); `cohorts_dir`:
    where cohort specs live (default `data/cohorts/`, env MRS_COHORTS_DIR); `engine`: where the
    per-store stages run (default pandas)."""
    mrs = MRSConfig(data_dir=str(Path(data_dir or default_data_dir()).resolve()), run_id=run_id)
    # Shared, so the IO manager sees the run's mode and scope.
    run_mode, scope = RunMode.configure_at_launch(), ReplayScope.configure_at_launch()
    return {
        "mrs": mrs,
        "run_mode": run_mode,
        "io_manager": LakeIOManager(mrs=mrs, run_mode=run_mode, scope=scope),
        "scope": scope,
        "models": models or DetectionModels(),
        "engine": engine or StageEngine(),
        "alert_webhook": AlertWebhook(url=os.environ.get("MRS_ALERT_WEBHOOK_URL")),
        "cohort_specs": CohortSpecs(cohorts_dir=str(Path(cohorts_dir or default_cohorts_dir()).resolve())),
        "cohort_catalog": LakeCatalogBundleLoader(mrs=mrs),
        "cohort_membership_store": LakeMembershipStore(mrs=mrs),
        "cohort_generations": LakeRegistryFactory(mrs=mrs),
    }


def build_definitions(
    data_dir: Path | str | None = None, run_id: str | None = None, models: DetectionModels | None = None,
    cohorts_dir: Path | str | None = None, store_shards: int | None = None,
) -> Definitions:
    """`store_shards`: how many store shards detection and cohorting run in (default
    MRS_STORE_SHARDS, else 0: unpartitioned)."""
    partitions_def = store_shards_def(store_shard_count() if store_shards is None else store_shards)
    return Definitions(
        assets=[_with_freshness(_sharded(asset, partitions_def)) for asset in [*ASSETS, cohort_membership, *COHORT_LOGS]],
        asset_checks=[*LOG_CHECKS, *SLO_CHECKS],
        resources=build_resources(data_dir, run_id, models, cohorts_dir),
        jobs=[
            define_asset_job(MAIN_JOB, selection=PIPELINE, description="Materialize every MRS asset but the "
                             "cohorts' memberships (mrs_cohort_membership, one partition per cohort)."),
            define_asset_job(
                COHORT_JOB, selection=AssetSelection.assets(cohort_membership),
                description="Evaluate one cohort's membership: what `mrs cohort create` and the cohort sensor launch.",
            ),
            cohort_assignment_job,
            define_asset_job(
                INSIGHTS_JOB, selection=AssetSelection.groups("insights"),
                description="Refresh insights, segment trends and the dashboard alone (after cohorts change, say).",
            ),
            define_asset_job(
                REPLAY_JOB,
                selection=PIPELINE,
                description="Replay the graph over a scope (resources.scope): what the corrected-feed sensor launches.",
            ),
            define_asset_job(
                RECALL_JOB,
                selection=AssetSelection.assets(*RECALLED),
                description="Re-evaluate the attribution of some reports (resources.scope.report_ids) and "
                "consolidate: what the recall sensors and the review schedule launch.",
            ),
        ],
        sensors=[new_delivery_sensor, corrected_feed_sensor, model_recall_sensor, cluster_recall_sensor,
                 evidence_recall_sensor, slo_alerts_sensor, cohort_reevaluation_sensor],
        schedules=[review_reports_scheduler],
    )


defs = build_definitions()
