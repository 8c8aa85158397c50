import pandas as pd
from dagster import AssetOut, Output, multi_asset

from mrs_dagster.assets.dagster_types import contract
from mrs_dagster.resources import MRSConfig
from mrs_dagster.stages.cohorting import cohort_reports, store_watermarks
from mrs_dagster.stages.ingest import current_sales_series

_LOGS = ("minority_reports_cohorted_log", "minority_event_log", "minority_events_ended_log")


@multi_asset(
    outs={name: AssetOut(group_name="cohorting", **contract(name)) for name in _LOGS},
)
def minority_reports_cohorted_log(
    mrs: MRSConfig, minority_reports_detected_log: pd.DataFrame, sales_timeseries_data: pd.DataFrame
):
    """Seed 000 cohorting by log replay: MRCH snapshots, the MELOG registry and MEEL closures."""
    watermarks = store_watermarks(current_sales_series(sales_timeseries_data))
    result = cohort_reports(minority_reports_detected_log, watermarks, mrs.current_run_id())
    events = result.events["event_id"].nunique()
    yield Output(result.cohorted, "minority_reports_cohorted_log", metadata={"events": events})
    yield Output(result.events, "minority_event_log", metadata={"events": events})
    yield Output(result.ended, "minority_events_ended_log", metadata={"ended": len(result.ended)})
