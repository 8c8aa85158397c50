"""Cohorts (seeds 002, 004): the combo catalog, the metrics rules may use, and each cohort's
membership, one dynamic partition per COH-N."""

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetSpec,
    Config,
    DynamicPartitionsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    OpExecutionContext,
    asset,
    job,
    op,
)

from mrs_dagster.assets.dagster_types import contract, contract_metadata
from mrs_dagster.cohort_assignments import run_job
from mrs_dagster.cohort_resources import CohortSpecs, LakeCatalogBundleLoader, LakeMembershipStore, LakeRegistryFactory
from mrs_dagster.cohorts.catalog import cohort_metrics as compute_cohort_metrics
from mrs_dagster.cohorts.catalog import METRIC_DAYS, new_combos
from mrs_dagster.cohorts.membership_builder import DDError, create_cohort_membership_builder
from mrs_dagster.hydration import newest_tick
from mrs_dagster.resources import REFRESH_POOL, MRSConfig, RunMode, current_series_input, lake_input

COHORT_PARTITIONS = DynamicPartitionsDefinition(name="cohorts")
ASSIGNMENT_JOB = "mrs_cohort_assignment"

# Logs written beside an asset or by `mrs cohort`, not assets of their own: shown for lineage and checks.
COHORT_LOGS = [
    AssetSpec(name, group_name="cohorts", deps=deps, description=description, metadata=contract_metadata(name))
    for name, deps, description in (
        ("cohort_membership_log", ["cohort_membership"],
         "Each cohort's membership generations (members added and removed), appended by cohort_membership."),
        ("event_assignments_log", [], "Events assigned to analysts, appended by `mrs cohort assign` and its jobs."),
        ("cohort_assignment_jobs_log", [], "CAJ-N assignment jobs' states and progress (`mrs cohort job`)."),
    )
]


@asset(group_name="cohorts", pool=REFRESH_POOL, ins={"sales_timeseries_data": lake_input(0, ("store_id", "sku", "ts"))},
       **contract("combo_catalog"))
def combo_catalog(context: AssetExecutionContext, mrs: MRSConfig, run_mode: RunMode,
                  sales_timeseries_data: pd.DataFrame) -> pd.DataFrame:
    """Appends the store x SKU series seen for the first time, under a new catalog version."""
    run_id = mrs.current_run_id()
    catalog = run_mode.lake(mrs).read("combo_catalog", run_id=run_id)
    fresh = new_combos(catalog, sales_timeseries_data, run_id)
    versions = pd.concat([catalog["version"], fresh["version"]])
    context.add_output_metadata({"combo_count": int(catalog["combo_id"].nunique() + len(fresh)), "new_combos": len(fresh),
                                 "max_version": int(versions.max()) if len(versions) else 0})
    return fresh


@asset(group_name="cohorts", pool=REFRESH_POOL, ins={"sales_timeseries_data": current_series_input(METRIC_DAYS)},
       **contract("cohort_metrics"))
def cohort_metrics(mrs: MRSConfig, combo_catalog: pd.DataFrame, sales_timeseries_data: pd.DataFrame,
                   minority_events: pd.DataFrame) -> pd.DataFrame:
    """The derived fields cohort rules may use, per combo, as of the newest tick."""
    return compute_cohort_metrics(combo_catalog, sales_timeseries_data, minority_events, mrs.current_run_id())


@asset(group_name="cohorts", partitions_def=COHORT_PARTITIONS, deps=["combo_catalog", "cohort_metrics"],
       pool=REFRESH_POOL)
def cohort_membership(context: AssetExecutionContext, mrs: MRSConfig, cohort_specs: CohortSpecs,
                      cohort_catalog: LakeCatalogBundleLoader, cohort_membership_store: LakeMembershipStore,
                      cohort_generations: LakeRegistryFactory) -> MaterializeResult:
    """One cohort's members now (seed 002's builder): a new generation in `cohort_membership_log`
    when they changed, none when they did not; a static cohort keeps its first generation."""
    builder = create_cohort_membership_builder(
        spec_repository=cohort_specs, catalog_loader=cohort_catalog, artifact_store=cohort_membership_store,
        registry_factory=cohort_generations)
    run_id = mrs.current_run_id()
    try:
        result = builder.build(context.partition_key, now=newest_tick(mrs.lake(), run_id), run_id=run_id)
    except DDError as error:
        raise Failure(description=str(error), metadata={"code": str(error.code), "context": MetadataValue.json(
            {k: v if isinstance(v, (str, int, float, list)) else str(v) for k, v in error.context.items()})}) from None
    meta = result.metadata
    return MaterializeResult(metadata={
        "rows": result.row_count, "combo_count": meta["combo_count"], "max_version": meta["max_version"],
        "generation": meta["generation"], "added": meta["added"], "removed": meta["removed"],
        "entity_scope": meta["entity_scope"], "kind": meta["kind"], "rule_fields": ", ".join(meta["rule_fields"]),
        "warnings": "; ".join(meta["warnings"]) or "none",
        "preview": MetadataValue.md(result.membership_preview.to_markdown(index=False) if result.row_count else "no members"),
    })


class AssignmentJobConfig(Config):
    job_id: str
    """The queued CAJ-N job (`mrs cohort assign` queues it for 100 events or more)."""


@op(description="Assign a cohort's open events to analysts, 10 at a time, tracked in cohort_assignment_jobs_log.")
def assign_cohort_events(context: OpExecutionContext, config: AssignmentJobConfig, mrs: MRSConfig,
                         cohort_specs: CohortSpecs) -> None:
    final = run_job(mrs, cohort_specs, config.job_id, context.run.run_id)
    context.log.info(f"{config.job_id}: {final['assigned_count']} assigned, {final['failed_count']} failed, "
                     f"{final['unassigned_count']} left unassigned (no capacity today)")


@job(name=ASSIGNMENT_JOB, description="Run a queued CAJ-N assignment job (seed 004's async assignment).")
def cohort_assignment_job():
    assign_cohort_events()
