"""SLO checks (seed 001 §11): lag behind the data per log, error rate, attribution coverage and
degradation. Non-blocking: a breach is shown (and alerted on by `slo_alerts_sensor`), it does not
stop the pipeline."""

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue, asset_check

from mrs_dagster.hydration import newest_tick
from mrs_dagster.resources import MRSConfig, RunMode
from mrs_dagster.stages import slo
from mrs_dagster.stages.hydrate import latest

_DETECTION_LOGS = ("baseline_sales_model_prediction_log", "anomaly_classifier_model_prediction_log")
_PER_REPORT_LOGS = (
    "minority_reports_clustered_log",
    "minority_reports_proposed_attribution_log",
    "minority_reports_finalised_log",
)
LAG_CHECKED = (*_DETECTION_LOGS, "minority_reports_detected_log", *_PER_REPORT_LOGS, "minority_reports_cohorted_log")


def _read(mrs: MRSConfig, run_mode: RunMode, name: str, columns: list[str] | None = None) -> pd.DataFrame:
    return run_mode.lake(mrs).read(name, run_id=mrs.current_run_id(), columns=columns)


def finalised_reports(mrs: MRSConfig, run_mode: RunMode) -> pd.DataFrame:
    """Each report's newest consolidated row of the run."""
    return slo.current_reports(_read(mrs, run_mode, "minority_reports_finalised_log"))


def measure_lag(mrs: MRSConfig, run_mode: RunMode, name: str) -> slo.Lag:
    """The data lag of log `name` against its SLO. Detection's progress is the classifier's: the
    MRDL only has rows where something was found."""
    lake, run_id = run_mode.lake(mrs), mrs.current_run_id()
    newest = newest_tick(lake, run_id)
    if name in _DETECTION_LOGS or name == "minority_reports_detected_log":
        measured = "anomaly_classifier_model_prediction_log" if name == "minority_reports_detected_log" else name
        return slo.tick_lag(lake.newest(measured, "written_at", run_id), newest)
    by = "store_id" if name == "minority_reports_cohorted_log" else "report_id"
    detected = _read(mrs, run_mode, "minority_reports_detected_log", [by, "written_at"])
    return slo.report_lag(_read(mrs, run_mode, name, [by, "written_at"]), detected, newest, by=by)


def _lag_check(name: str):
    budget = "30 min" if name in (*_DETECTION_LOGS, "minority_reports_detected_log") else "4 h (p95 over reports)"

    @asset_check(asset=name, name="data_lag", description=f"The log trails the newest sales tick by at most {budget}.")
    def _check(mrs: MRSConfig, run_mode: RunMode) -> AssetCheckResult:
        lag = measure_lag(mrs, run_mode, name)
        return AssetCheckResult(
            passed=lag.met,
            metadata={"lag_minutes": lag.minutes, "slo_minutes": lag.slo.total_seconds() / 60},
        )

    return _check


@asset_check(asset="unified_sales_data_errors", name="error_rate",
             description="Under 1% of landed rows end in the dead letters (seed 001 §11).")
def error_rate(mrs: MRSConfig, run_mode: RunMode) -> AssetCheckResult:
    lake, run_id = run_mode.lake(mrs), mrs.current_run_id()
    valid, errors = lake.count("unified_sales_data", run_id), lake.count("unified_sales_data_errors", run_id)
    rate = slo.error_rate(valid, errors)
    return AssetCheckResult(
        passed=rate < slo.MAX_ERROR_RATE,
        metadata={"error_rate_pct": round(100 * rate, 3), "error_rows": errors, "valid_rows": valid},
    )


@asset_check(asset="minority_reports_proposed_attribution_log", name="attribution_coverage",
             description="At least 80% of active reports have a proposed cause with a confidence.")
def attribution_coverage(mrs: MRSConfig, run_mode: RunMode) -> AssetCheckResult:
    reports = finalised_reports(mrs, run_mode)
    coverage = slo.attribution_coverage(reports)
    return AssetCheckResult(
        passed=coverage >= slo.MIN_ATTRIBUTION_COVERAGE,
        severity=AssetCheckSeverity.WARN,
        metadata={"coverage_pct": round(100 * coverage, 1), "active_reports": int((reports["report_status"] != "superseded").sum())},
    )


@asset_check(asset="minority_reports_detected_log", name="detection_on_models",
             description="Detection ran on the baseline and classifier, not the degraded heuristic.")
def detection_on_models(mrs: MRSConfig, run_mode: RunMode) -> AssetCheckResult:
    current = latest(_read(mrs, run_mode, "minority_reports_detected_log"), "report_id")
    degraded = int(current["is_degraded"].sum())
    return AssetCheckResult(
        passed=degraded == 0, severity=AssetCheckSeverity.WARN,
        metadata={"degraded_reports": degraded, "reports": len(current)},
    )


@asset_check(asset="minority_reports_finalised_log", name="reports_not_degraded",
             description="No report is degraded for an input that is down (superseded reports are expected).")
def reports_not_degraded(mrs: MRSConfig, run_mode: RunMode) -> AssetCheckResult:
    reports = finalised_reports(mrs, run_mode)
    unexpected = slo.unexpected_degradation(reports)
    return AssetCheckResult(
        passed=not unexpected, severity=AssetCheckSeverity.WARN,
        metadata={"reports": len(reports), "degraded_by_reason": MetadataValue.json(slo.degradation(reports))},
    )


@asset_check(asset="data_gaps", name="no_data_gaps",
             description="No store went silent during its trading hours (missing data is not a stockout).")
def no_data_gaps(mrs: MRSConfig, run_mode: RunMode) -> AssetCheckResult:
    gaps = _read(mrs, run_mode, "data_gaps")
    return AssetCheckResult(
        passed=gaps.empty, severity=AssetCheckSeverity.WARN,
        metadata={"data_gaps": len(gaps), "stores": sorted(gaps["store_id"].unique().tolist())},
    )


SLO_CHECKS = [*(_lag_check(name) for name in LAG_CHECKED), error_rate, attribution_coverage, detection_on_models,
              reports_not_degraded, no_data_gaps]
