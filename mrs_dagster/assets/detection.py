import pandas as pd
from dagster import AssetExecutionContext, Failure, asset

from mrs_dagster.assets.dagster_types import contract
from mrs_dagster.resources import DETECTION_POOL, MRSConfig, ReplayScope, RunMode
from mrs_dagster.stages.baseline import baseline_predictions
from mrs_dagster.stages.classifier import classifier_predictions
from mrs_dagster.stages.detection import detect_minority_reports, models_available
from mrs_dagster.stages.ingest import current_sales_series


def _current_series(sales_timeseries_data: pd.DataFrame, scope: ReplayScope) -> pd.DataFrame:
    """The current series of the scope's stores, whole history (the baseline learns from it)."""
    if sales_timeseries_data.empty:
        raise Failure("sales_timeseries_data is empty: nothing has been landed for this run_id")
    return scope.stores_of(current_sales_series(sales_timeseries_data))


@asset(group_name="detection", pool=DETECTION_POOL, **contract("baseline_sales_model_prediction_log"))
def baseline_sales_model_prediction_log(
    mrs: MRSConfig, scope: ReplayScope, sales_timeseries_data: pd.DataFrame
) -> pd.DataFrame:
    """Expected units and sales per store x SKU x tick, learned from the days before each tick."""
    return scope.narrow(baseline_predictions(_current_series(sales_timeseries_data, scope), mrs.current_run_id()))


@asset(group_name="detection", pool=DETECTION_POOL, **contract("anomaly_classifier_model_prediction_log"))
def anomaly_classifier_model_prediction_log(
    mrs: MRSConfig,
    scope: ReplayScope,
    sales_timeseries_data: pd.DataFrame,
    baseline_sales_model_prediction_log: pd.DataFrame,
) -> pd.DataFrame:
    """Per-tick Poisson anomaly score and flag for every series with a baseline."""
    series = _current_series(sales_timeseries_data, scope)
    return scope.narrow(classifier_predictions(series, baseline_sales_model_prediction_log, mrs.current_run_id()))


@asset(group_name="detection", pool=DETECTION_POOL, **contract("minority_reports_detected_log"))
def minority_reports_detected_log(
    context: AssetExecutionContext,
    mrs: MRSConfig,
    scope: ReplayScope,
    run_mode: RunMode,
    sales_timeseries_data: pd.DataFrame,
    baseline_sales_model_prediction_log: pd.DataFrame,
    anomaly_classifier_model_prediction_log: pd.DataFrame,
) -> pd.DataFrame:
    """MRDL. Critical: if the baseline or classifier log is unavailable (never written, or empty for
    this run past the baseline's warm-up), detection falls back to the deviation heuristic and marks
    its rows degraded."""
    series = _current_series(sales_timeseries_data, scope)
    baseline, classifier = (
        None if run_mode.dropped(name) else scope.stores_of(log)
        for name, log in (
            ("baseline_sales_model_prediction_log", baseline_sales_model_prediction_log),
            ("anomaly_classifier_model_prediction_log", anomaly_classifier_model_prediction_log),
        )
    )
    reports = scope.narrow(detect_minority_reports(series, baseline, classifier, mrs.current_run_id()))
    degraded = not models_available(baseline, classifier, series)
    if degraded:
        context.log.warning("baseline or classifier log unavailable: detection degraded to the deviation heuristic")
    context.add_output_metadata({"reports": int(reports["report_id"].nunique()), "is_degraded": degraded})
    return reports
