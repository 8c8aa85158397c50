"""Service levels of the logs (seed 001 §11): lag behind the data, error rate, coverage, degradation.

Everything is measured in data time, not on the wall clock: a log's lag is how far it trails the
newest tick of `sales_timeseries_data`, so replaying old data does not look stale and a stuck
stage does. (Dagster's freshness policies on the assets cover the wall clock.)
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

# SLOs from seed 001 §11 and issue 4.
DETECTION_LAG = pd.Timedelta(minutes=30)
REFRESH_LAG = pd.Timedelta(hours=4)
MAX_ERROR_RATE = 0.01
MIN_ATTRIBUTION_COVERAGE = 0.80
# Degradation an operator must see; a superseded report is the intended outcome of a correction.
EXPECTED_DEGRADATION = {"SUPERSEDED"}


@dataclass(frozen=True)
class Lag:
    lag: pd.Timedelta  # the measured lag (p95 over reports for per-report logs)
    slo: pd.Timedelta

    @property
    def met(self) -> bool:
        return self.lag <= self.slo

    @property
    def minutes(self) -> float:
        return round(self.lag.total_seconds() / 60, 1)


def tick_lag(newest_written: pd.Timestamp | None, newest_tick: pd.Timestamp | None,
             slo: pd.Timedelta = DETECTION_LAG) -> Lag:
    """How far a per-tick log's newest written_at trails the newest sales tick (a log without
    rows, `newest_written` None, trails by everything there is)."""
    if newest_tick is None or pd.isna(newest_tick):
        return Lag(pd.Timedelta(0), slo)
    if newest_written is None:
        return Lag(pd.Timedelta.max, slo)
    return Lag(max(newest_tick - newest_written, pd.Timedelta(0)), slo)


def report_lag(log: pd.DataFrame, detected: pd.DataFrame, newest_tick: pd.Timestamp | None,
               slo: pd.Timedelta = REFRESH_LAG, by: str = "report_id") -> Lag:
    """p95 over the detected reports (`by` = report_id) or stores (`by` = store_id) of how far a
    log's newest written_at trails the newest MRDL tick; one the log has not reached at all trails
    to the newest sales tick."""
    if detected.empty:
        return Lag(pd.Timedelta(0), slo)
    newest = detected.groupby(by)["written_at"].max()
    if log.empty:  # a store shard's run may check a log no shard has written to yet
        reached = pd.Series(pd.NaT, index=newest.index, dtype=newest.dtype)
    else:
        reached = log.groupby(by)["written_at"].max().reindex(newest.index)
    horizon = newest_tick if newest_tick is not None else newest.max()
    lags = (newest - reached).fillna(horizon - newest).clip(lower=pd.Timedelta(0))
    return Lag(lags.quantile(0.95), slo)


def error_rate(valid_rows: int, error_rows: int) -> float:
    total = valid_rows + error_rows
    return error_rows / total if total else 0.0


def current_reports(finalised: pd.DataFrame) -> pd.DataFrame:
    """Each report's newest consolidated row."""
    return finalised.sort_values(["written_at", "version"], kind="stable").drop_duplicates("report_id", keep="last")


def attribution_coverage(reports: pd.DataFrame) -> float:
    """Share of active (not superseded) reports with a proposed cause backed by a confidence."""
    active = reports[reports["report_status"] != "superseded"]
    return float(active["confidence_score"].notna().mean()) if len(active) else 1.0


def degradation(reports: pd.DataFrame) -> dict[str, int]:
    """Reports per degraded reason (a report can have several)."""
    reasons = reports["degraded_reasons"].str.split(",").explode()
    return {reason: int(n) for reason, n in reasons[reasons.fillna("").ne("")].value_counts().items()}


def unexpected_degradation(reports: pd.DataFrame) -> dict[str, int]:
    return {reason: n for reason, n in degradation(reports).items() if reason not in EXPECTED_DEGRADATION}


# The column whose values a log's rows are counted by in the health view.
STATUS_COLUMNS = {
    "minority_reports_detected_log": "detection_mode",
    "minority_reports_cohorted_log": "event_status",
    "minority_event_log": "event_status",
    "minority_events_ended_log": "resolution_reason",
    "minority_reports_clustered_log": "cluster_label",
    "minority_reports_proposed_attribution_log": "proposed_cause",
    "minority_reports_finalised_log": "report_status",
}


def rows_by_status(name: str, rows: pd.DataFrame) -> dict[str, int]:
    column = STATUS_COLUMNS.get(name)
    if column is None or rows.empty:
        return {}
    return {str(k): int(v) for k, v in rows[column].fillna("NULL").value_counts().items()}
