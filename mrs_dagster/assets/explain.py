import pandas as pd
from dagster import AssetExecutionContext, MetadataValue, asset

from mrs_dagster.assets.dagster_types import contract
from mrs_dagster.assets.ingest import READ_RETRY_POLICY, reference_data
from mrs_dagster.landing import TRANSIENT_READ_ERRORS, read_reference
from mrs_dagster.hydration import newest_tick
from mrs_dagster.resources import REFRESH_POOL, MRSConfig, ReplayScope, RunMode
from mrs_dagster.stages.attribution import attribute_reports, attribution_unavailable
from mrs_dagster.stages.clustering import cluster_reports, unclustered
from mrs_dagster.stages.hydrate import latest
from mrs_dagster.stages.ingest import dead_letter_rows
from mrs_dagster.stages.reference import usable_reference
from mrs_dagster.stages.restatement import changed_reports, restate

CLUSTER_FIELDS = ["cluster_id", "cluster_label"]
ATTRIBUTION_FIELDS = ["proposed_cause", "campaign_id", "context_event_id", "cluster_id"]
RECLUSTERED = "reclustered_report_ids"  # metadata read by cluster_recall_sensor


# Both explain stages: they read the reference files (retried when a read fails transiently) and
# run in the refresh pool.
_EXPLAIN_STAGE = {"group_name": "explain", "deps": [reference_data], "retry_policy": READ_RETRY_POLICY, "pool": REFRESH_POOL}


def optional_reference(context: AssetExecutionContext, mrs: MRSConfig, run_mode: RunMode, name: str) -> pd.DataFrame | None:
    """Circuit breaker for optional reference data: missing, broken or dropped by fault injection
    means None, with a warning."""
    if run_mode.dropped(name):
        context.log.warning(f"reference/{name}.csv dropped by fault injection, continuing without it")
        return None
    try:
        run_mode.read_attempt(context.run.run_id)
        frame = read_reference(mrs.path, name)
    except TRANSIENT_READ_ERRORS:
        if context.retry_number < READ_RETRY_POLICY.max_retries:
            raise  # retried by the asset's retry policy; on the last attempt, degrade instead
        context.log.warning(f"reference/{name}.csv still unreadable after retries, continuing without it")
        return None
    except (OSError, ValueError) as error:
        context.log.warning(f"reference/{name}.csv unusable, continuing without it: {error}")
        return None
    if frame is None:
        context.log.warning(f"reference/{name}.csv missing, continuing without it")
        return None
    usable, unusable = usable_reference(name, run_mode.limit(frame))
    if len(unusable):
        context.log.warning(f"reference/{name}.csv: {len(unusable)} unusable row(s) in reference_data_errors")
        dead = dead_letter_rows(unusable, f"reference/{name}.csv", mrs.current_run_id())
        run_mode.lake(mrs).append("reference_data_errors", dead)
    return usable


@asset(**_EXPLAIN_STAGE, **contract("minority_reports_clustered_log"))
def minority_reports_clustered_log(
    context: AssetExecutionContext,
    mrs: MRSConfig,
    scope: ReplayScope,
    run_mode: RunMode,
    minority_reports_detected_log: pd.DataFrame,
) -> pd.DataFrame:
    """MRCL. Important, non-blocking: if clustering fails, every report is emitted unclustered
    (cluster_id NULL) and detection is unaffected."""
    run_id = mrs.current_run_id()
    references = [optional_reference(context, mrs, run_mode, name) for name in ("stores", "skus")]
    clusters, healthy = _guarded(
        context, "clustering", lambda: cluster_reports(minority_reports_detected_log, *references, run_id),
        lambda: unclustered(minority_reports_detected_log, run_id), references,
    )
    restated = _restatements(mrs, run_mode, scope, "minority_reports_clustered_log", clusters, CLUSTER_FIELDS, healthy)
    current = latest(clusters, "report_id")
    context.add_output_metadata({
        "clusters": int(current["cluster_id"].nunique()),
        "unclustered_reports": int(current["cluster_id"].isna().sum()),
        "reclustered_reports": len(restated),
        RECLUSTERED: MetadataValue.json(sorted(restated["report_id"])),
    })
    return pd.concat([scope.narrow(clusters), restated], ignore_index=True)


@asset(**_EXPLAIN_STAGE, **contract("minority_reports_proposed_attribution_log"))
def minority_reports_proposed_attribution_log(
    context: AssetExecutionContext,
    mrs: MRSConfig,
    scope: ReplayScope,
    run_mode: RunMode,
    minority_reports_detected_log: pd.DataFrame,
    minority_reports_clustered_log: pd.DataFrame,
) -> pd.DataFrame:
    """MRPAL. Important, non-blocking: if attribution fails, every report is `unknown` with a NULL
    confidence; a missing reference input only removes its kind of evidence."""
    run_id = mrs.current_run_id()
    clusters = None if run_mode.dropped("minority_reports_clustered_log") else minority_reports_clustered_log
    inputs = [clusters, *(optional_reference(context, mrs, run_mode, name) for name in ("stores", "skus", "campaigns", "context_events"))]
    proposals, healthy = _guarded(
        context, "attribution", lambda: attribute_reports(minority_reports_detected_log, *inputs, run_id),
        lambda: attribution_unavailable(minority_reports_detected_log, run_id), inputs,
    )
    restated = _restatements(
        mrs, run_mode, scope, "minority_reports_proposed_attribution_log", proposals, ATTRIBUTION_FIELDS, healthy
    )
    current = latest(proposals, "report_id")
    context.add_output_metadata({
        **{f"reports_{cause}": int(n) for cause, n in current["proposed_cause"].value_counts().items()},
        "reattributed_reports": len(restated),
    })
    return pd.concat([scope.narrow(proposals), restated], ignore_index=True)


def _guarded(context: AssetExecutionContext, stage: str, compute, fallback, inputs: list) -> tuple[pd.DataFrame, bool]:
    """(the stage's rows, whether every input was up and it ran); when it raises, its fallback
    rows (seed 001 §5: clustering or attribution down must not stop the pipeline)."""
    try:
        return compute(), all(frame is not None for frame in inputs)
    except Exception as error:
        context.log.error(f"{stage} failed, emitting its degraded rows: {error!r}")
        return fallback(), False


def _restatements(mrs: MRSConfig, run_mode: RunMode, scope: ReplayScope, name: str, computed: pd.DataFrame,
                  fields: list[str], healthy: bool) -> pd.DataFrame:
    """Rows restating, at the newest data tick, the reports (of the scope) whose logged state the
    recomputation contradicts; none when an input is down, so an outage never rewrites history."""
    lake, run_id = run_mode.lake(mrs), mrs.current_run_id()
    at = newest_tick(lake, run_id)
    if not healthy or at is None:
        return computed.iloc[0:0]
    changed = scope.recalled(changed_reports(computed, lake.read(name, run_id=run_id), fields))
    return restate(computed, changed, at)
