import pandas as pd
from dagster import AssetExecutionContext, Failure, MetadataValue, asset

from mrs_dagster.assets.dagster_types import contract
from mrs_dagster.engines import StageEngine
from mrs_dagster.lake import dataset
from mrs_dagster.partitions import running_shard
from mrs_dagster.resources import (
    DETECTION_POOL,
    DetectionModels,
    MRSConfig,
    ReplayScope,
    RunMode,
    current_series_input,
    lake_input,
)
from mrs_dagster.stages import versions
from mrs_dagster.stages.baseline import BASELINE_LOOKBACK_DAYS, baseline_predictions
from mrs_dagster.stages.classifier import classifier_predictions
from mrs_dagster.stages.detection import (
    DETECTION_LOOKBACK_DAYS,
    FLAG_LOOKBACK_DAYS,
    detect_minority_reports,
    models_available,
)


# The model-log columns each stage uses, with what tells the current rows (store_id, version,
# written_at): the other columns of a log of ten million rows cost gigabytes at the step's peak.
_BASELINE_FOR_CLASSIFIER = ("store_id", "sku", "ts", "expected_units", "version", "written_at")
_BASELINE_FOR_DETECTION = (*_BASELINE_FOR_CLASSIFIER, "expected_sales_value")
_CLASSIFIER_FOR_DETECTION = ("store_id", "sku", "ts", "anomaly_flag", "direction", "severity_score", "version",
                             "model_version", "written_at")


def _landed(sales_timeseries_data: pd.DataFrame) -> pd.DataFrame:
    if sales_timeseries_data.empty:
        raise Failure("sales_timeseries_data is empty: nothing has been landed for this run_id")
    return sales_timeseries_data


def _empty_shard(context: AssetExecutionContext, sales_timeseries_data: pd.DataFrame) -> bool:
    """A store shard no store falls in computes nothing (in an unpartitioned run, no sales is a failure)."""
    return sales_timeseries_data.empty and running_shard(context) is not None


def _current_series(sales_timeseries_data: pd.DataFrame, scope: ReplayScope) -> pd.DataFrame:
    """The current series of the scope's stores, whole history (the baseline learns from it)."""
    return scope.stores_of(_landed(sales_timeseries_data))


@asset(group_name="detection", ins={"sales_timeseries_data": lake_input(0, ("ts",))}, **contract("model_generations"))
def model_generations(
    context: AssetExecutionContext, mrs: MRSConfig, run_mode: RunMode, models: DetectionModels,
    sales_timeseries_data: pd.DataFrame,
) -> pd.DataFrame:
    """The detection models' generations: registers one when the configured baseline or classifier
    model version differs from the newest registered, re-evaluating the recall window."""
    newest_tick = _landed(sales_timeseries_data)["ts"].max()
    registered = run_mode.lake(mrs).read("model_generations", run_id=mrs.current_run_id())
    new = versions.next_generation(registered, *models.versions(), newest_tick, models.recall_days)
    new = new.assign(run_id=mrs.current_run_id())
    if not new.empty:
        context.log.info(f"model generation {new['generation'].iloc[0]} registered, re-evaluating from "
                         f"{new['effective_from'].iloc[0]}")
    newest = new if len(new) else registered.sort_values("generation").tail(1)
    context.add_output_metadata({"generation": int(newest["generation"].iloc[0]), "registered_now": len(new),
                                 "models": MetadataValue.md(newest.drop(columns="run_id").astype(str).to_markdown(index=False))})
    return new


@asset(group_name="detection", **contract("evaluation_versions"))
def evaluation_versions(
    context: AssetExecutionContext, mrs: MRSConfig, sales_daily_summary: pd.DataFrame, model_generations: pd.DataFrame
) -> pd.DataFrame:
    """Per store, the steps of its evaluation version: what a corrected resend or a model update
    re-evaluated, and so which rows of every log are current."""
    steps = versions.evaluation_versions(versions.feed_versions(sales_daily_summary), model_generations)
    reevaluated = versions.corrected_spans(steps)
    context.add_output_metadata({
        "reevaluated_stores": int(reevaluated["store_id"].nunique()),
        "reevaluations": MetadataValue.md(reevaluated.to_markdown(index=False)),
    })
    return steps.assign(run_id=mrs.current_run_id())


@asset(group_name="detection", pool=DETECTION_POOL, ins={"sales_timeseries_data": current_series_input(BASELINE_LOOKBACK_DAYS)},
       **contract("baseline_sales_model_prediction_log"))
def baseline_sales_model_prediction_log(
    context: AssetExecutionContext, mrs: MRSConfig, scope: ReplayScope, models: DetectionModels, engine: StageEngine,
    sales_timeseries_data: pd.DataFrame, evaluation_versions: pd.DataFrame,
) -> pd.DataFrame:
    """Expected units and sales per store x SKU x tick, learned from the days before each tick."""
    if _empty_shard(context, sales_timeseries_data):
        return dataset("baseline_sales_model_prediction_log").empty()
    run_id, params = mrs.current_run_id(), models.baseline_params()
    predictions, = engine.per_store(
        lambda store: (baseline_predictions(store["series"], run_id, params, versions=store["versions"]),),
        {"series": _current_series(sales_timeseries_data, scope), "versions": evaluation_versions},
        ["baseline_sales_model_prediction_log"])
    return scope.narrow(predictions)


@asset(group_name="detection", pool=DETECTION_POOL,
       ins={"sales_timeseries_data": current_series_input(0),
            "baseline_sales_model_prediction_log": lake_input(0, _BASELINE_FOR_CLASSIFIER)},
       **contract("anomaly_classifier_model_prediction_log"))
def anomaly_classifier_model_prediction_log(
    context: AssetExecutionContext,
    mrs: MRSConfig,
    scope: ReplayScope,
    models: DetectionModels,
    engine: StageEngine,
    sales_timeseries_data: pd.DataFrame,
    evaluation_versions: pd.DataFrame,
    baseline_sales_model_prediction_log: pd.DataFrame,
) -> pd.DataFrame:
    """Per-tick Poisson anomaly score and flag for every series with a baseline."""
    if _empty_shard(context, sales_timeseries_data):
        return dataset("anomaly_classifier_model_prediction_log").empty()
    run_id, params = mrs.current_run_id(), models.scoring_params()
    predictions, = engine.per_store(
        lambda store: (classifier_predictions(store["series"], store["baseline"], run_id, params,
                                              versions=store["versions"]),),
        {"series": _current_series(sales_timeseries_data, scope), "baseline": baseline_sales_model_prediction_log,
         "versions": evaluation_versions},
        ["anomaly_classifier_model_prediction_log"])
    return scope.narrow(predictions)


@asset(group_name="detection", pool=DETECTION_POOL,
       ins={"sales_timeseries_data": current_series_input(DETECTION_LOOKBACK_DAYS),
            "baseline_sales_model_prediction_log": lake_input(FLAG_LOOKBACK_DAYS, _BASELINE_FOR_DETECTION),
            "anomaly_classifier_model_prediction_log": lake_input(FLAG_LOOKBACK_DAYS, _CLASSIFIER_FOR_DETECTION)},
       **contract("minority_reports_detected_log"))
def minority_reports_detected_log(
    context: AssetExecutionContext,
    mrs: MRSConfig,
    scope: ReplayScope,
    run_mode: RunMode,
    engine: StageEngine,
    sales_timeseries_data: pd.DataFrame,
    evaluation_versions: pd.DataFrame,
    baseline_sales_model_prediction_log: pd.DataFrame,
    anomaly_classifier_model_prediction_log: pd.DataFrame,
) -> pd.DataFrame:
    """MRDL. Critical: if the baseline or classifier log is unavailable (never written, or empty for
    this run past the baseline's warm-up), detection falls back to the deviation heuristic and marks
    its rows degraded."""
    if _empty_shard(context, sales_timeseries_data):
        return dataset("minority_reports_detected_log").empty()
    series = _current_series(sales_timeseries_data, scope)
    baseline, classifier = (
        None if run_mode.dropped(name) else scope.stores_of(log)
        for name, log in (
            ("baseline_sales_model_prediction_log", baseline_sales_model_prediction_log),
            ("anomaly_classifier_model_prediction_log", anomaly_classifier_model_prediction_log),
        )
    )
    run_id = mrs.current_run_id()
    reports, = engine.per_store(
        lambda store: (detect_minority_reports(store["series"], store["baseline"], store["classifier"], run_id,
                                               versions=store["versions"]),),
        {"series": series, "baseline": baseline, "classifier": classifier, "versions": evaluation_versions},
        ["minority_reports_detected_log"])
    reports = scope.narrow(reports)
    degraded = not models_available(baseline, classifier, series)
    if degraded:
        context.log.warning("baseline or classifier log unavailable: detection degraded to the deviation heuristic")
    context.add_output_metadata({"reports": int(reports["report_id"].nunique()), "is_degraded": degraded})
    return reports
