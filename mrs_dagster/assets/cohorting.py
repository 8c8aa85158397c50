import pandas as pd
from dagster import AssetExecutionContext, AssetOut, Output, multi_asset

from mrs_dagster.assets.dagster_types import contract
from mrs_dagster.engines import StageEngine
from mrs_dagster.partitions import running_shard
from mrs_dagster.resources import REFRESH_POOL, MRSConfig, ReplayScope, RunMode
from mrs_dagster.stages.cohorting import CohortingResult, cohort_reports, correction_closures, store_watermarks
from mrs_dagster.stages.frames import concat_rows

_LOGS = ("minority_reports_cohorted_log", "minority_event_log", "minority_events_ended_log")


@multi_asset(
    outs={name: AssetOut(group_name="cohorting", **contract(name)) for name in _LOGS},
    pool=REFRESH_POOL,
)
def minority_reports_cohorted_log(
    context: AssetExecutionContext,
    mrs: MRSConfig,
    scope: ReplayScope,
    run_mode: RunMode,
    engine: StageEngine,
    minority_reports_detected_log: pd.DataFrame,
    sales_daily_summary: pd.DataFrame,
    evaluation_versions: pd.DataFrame,
):
    """Seed 000 cohorting by log replay: MRCH snapshots, the MELOG registry and MEEL closures.
    Events a corrected resend or a model update leaves without reports end with resolution 'data
    correction' or 'model update'."""
    run_id = mrs.current_run_id()
    watermarks = store_watermarks(sales_daily_summary).reset_index()
    result = CohortingResult(*engine.per_store(
        lambda store: _parts(cohort_reports(store["detected"], store["watermarks"].set_index("store_id")["ts"], run_id,
                                            versions=store["versions"])),
        {"detected": scope.stores_of(minority_reports_detected_log), "watermarks": watermarks,
         "versions": evaluation_versions},
        list(_LOGS)))
    written = scope.stores_of(run_mode.lake(mrs).read("minority_reports_cohorted_log", run_id=run_id,
                                                      shard=running_shard(context)))
    closures = correction_closures(written, result.cohorted["report_id"], evaluation_versions, run_id)
    if not closures.ended.empty:
        context.log.info(f"{len(closures.ended)} event(s) ended by a re-evaluation")
    logs = [concat_rows([scope.narrow(a), b]) for a, b in zip(_parts(result), _parts(closures))]
    events = result.events["event_id"].nunique()
    yield Output(logs[0], "minority_reports_cohorted_log", metadata={"events": events})
    yield Output(logs[1], "minority_event_log", metadata={"events": events})
    yield Output(logs[2], "minority_events_ended_log", metadata={
        "ended": len(logs[2]), "ended_by_reevaluation": len(closures.ended)})


def _parts(result: CohortingResult) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return result.cohorted, result.events, result.ended
