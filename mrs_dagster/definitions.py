"""The MRS Dagster code location: every asset, the lake IO manager and the main job."""

from __future__ import annotations

from pathlib import Path

from dagster import AssetSelection, Definitions, define_asset_job

from mrs_dagster.assets.cohorting import minority_reports_cohorted_log
from mrs_dagster.assets.config import demo_run_config
from mrs_dagster.assets.contract_checks import LOG_CHECKS
from mrs_dagster.assets.detection import (
    anomaly_classifier_model_prediction_log,
    baseline_sales_model_prediction_log,
    minority_reports_detected_log,
)
from mrs_dagster.assets.explain import minority_reports_clustered_log, minority_reports_proposed_attribution_log
from mrs_dagster.assets.ingest import (
    landing_sales,
    reference_data,
    sales_feed_versions,
    sales_timeseries_data,
    unified_sales_data,
)
from mrs_dagster.assets.review import EDITS_LOGS, hydrated_views, minority_reports_finalised_log
from mrs_dagster.resources import LakeIOManager, MRSConfig, ReplayScope, default_data_dir
from mrs_dagster.sensors import REPLAY_JOB, corrected_feed_sensor

MAIN_JOB = "mrs_all_assets"

ASSETS = [
    landing_sales,
    reference_data,
    demo_run_config,
    unified_sales_data,
    sales_timeseries_data,
    sales_feed_versions,
    baseline_sales_model_prediction_log,
    anomaly_classifier_model_prediction_log,
    minority_reports_detected_log,
    minority_reports_cohorted_log,
    minority_reports_clustered_log,
    minority_reports_proposed_attribution_log,
    *EDITS_LOGS,
    minority_reports_finalised_log,
    hydrated_views,
]


def build_resources(data_dir: Path | str | None = None, run_id: str | None = None) -> dict:
    mrs = MRSConfig(data_dir=str(Path(data_dir or default_data_dir()).resolve()), run_id=run_id)
    return {"mrs": mrs, "io_manager": LakeIOManager(mrs=mrs), "scope": ReplayScope()}


def build_definitions(data_dir: Path | str | None = None, run_id: str | None = None) -> Definitions:
    return Definitions(
        assets=ASSETS,
        asset_checks=LOG_CHECKS,
        resources=build_resources(data_dir, run_id),
        jobs=[
            define_asset_job(MAIN_JOB, selection=AssetSelection.all(), description="Materialize every MRS asset."),
            define_asset_job(
                REPLAY_JOB,
                selection=AssetSelection.all(),
                description="Replay the graph over a scope (resources.scope): what the replay sensors launch.",
            ),
        ],
        sensors=[corrected_feed_sensor],
    )


defs = build_definitions()
