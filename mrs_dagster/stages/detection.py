"""Detection: minority reports (MRDL) from the classifier's flags, or, when the baseline or the
classifier log is unavailable, from a deviation heuristic over the series alone (seed 001 §5).

A report is one store x SKU run of flagged ticks in one direction (unflagged gaps up to
`report_gap` do not split it). It is re-emitted at every flagged tick, `written_at` = that tick,
with its totals so far, so the log replays the report as it grew.

The degraded heuristic expects, per SKU and 5-minute slot, the plain mean of the same slot over
the previous `history_days` days (no robustness, no weekday or store profile) and applies the
Poisson window test with stricter settings (`HEURISTIC_SCORING`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mrs_dagster.contracts import DIRECTIONS
from mrs_dagster.stages.baseline import BaselineParams
from mrs_dagster.stages.classifier import ScoringParams, direction_codes, score_windows
from mrs_dagster.stages.frames import rows_among
from mrs_dagster.stages.identity import stable_id
from mrs_dagster.stages.series_grid import TICKS_PER_DAY, StoreGrid, long_rows, map_store_grids

HEURISTIC_VERSION = "seasonal-naive-deviation-v1"
HEURISTIC_SCORING = ScoringParams(windows=(6,), threshold=8.0, spike_ratio=2.0, drop_ratio=0.25, min_excess=4.0)


@dataclass(frozen=True)
class DetectionParams:
    report_gap: pd.Timedelta = pd.Timedelta(minutes=15)
    history_days: int = 7
    min_history_days: int = 3


# What detection from a tick on reads before it: the heuristic's series history, and the day
# before of the model logs (a run of flags still open at midnight began the day before; runs
# longer than a day are not expected of stores that close at night).
DETECTION_LOOKBACK_DAYS = DetectionParams.history_days
FLAG_LOOKBACK_DAYS = 1

_FLAGGED = ["store_id", "sku", "ts", "direction", "severity_score", "units", "sales_value", "version",
            "model_version", "expected_units", "expected_sales_value"]


def detect_minority_reports(
    series: pd.DataFrame,
    baseline: pd.DataFrame | None,
    classifier: pd.DataFrame | None,
    run_id: str,
    params: DetectionParams = DetectionParams(),
    *,
    versions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """MRDL rows; when the model logs are unavailable (see `models_available`), by the heuristic.
    Each row's `model_version` is the classifier's behind its tick (or the heuristic's); `versions`:
    the stores' evaluation versions (see `map_store_grids`)."""
    degraded = not models_available(baseline, classifier, series)
    if degraded:
        flagged = pd.concat(map_store_grids(lambda grid: heuristic_flags(grid, params), series, versions)
                            or [pd.DataFrame(columns=_FLAGGED)])
    else:
        flagged = model_flags(series, baseline, classifier)
    reports = reports_from_flags(flagged, params)
    return reports.assign(
        detection_mode="degraded_heuristic" if degraded else "model",
        is_degraded=degraded,
        run_id=run_id,
    )


def models_available(baseline: pd.DataFrame | None, classifier: pd.DataFrame | None, series: pd.DataFrame) -> bool:
    """Whether the model logs can be used. None means unavailable. Empty logs are expected while
    the series is shorter than the baseline's warm-up; past it, empty means the logs are missing."""
    if baseline is None or classifier is None:
        return False
    if baseline.empty or classifier.empty:
        return series["ts"].dt.normalize().nunique() <= BaselineParams().min_history_days
    return True


def model_flags(series: pd.DataFrame, baseline: pd.DataFrame, classifier: pd.DataFrame) -> pd.DataFrame:
    """Flagged ticks of the classifier log with the sales and baseline of each tick."""
    keys = ["store_id", "sku", "ts"]
    flagged = classifier.loc[classifier["anomaly_flag"], keys + ["direction", "severity_score", "version", "model_version"]]
    ticks = flagged[keys]
    flagged = flagged.merge(rows_among(baseline, ticks)[keys + ["expected_units", "expected_sales_value"]], on=keys,
                            how="left")
    flagged = flagged.merge(rows_among(series, ticks)[keys + ["units", "sales_value"]], on=keys, how="left")
    return flagged.fillna({"units": 0.0, "sales_value": 0.0})[_FLAGGED]


def heuristic_flags(grid: StoreGrid, params: DetectionParams = DetectionParams()) -> pd.DataFrame:
    """Flagged ticks of one store by the seasonal-naive deviation heuristic."""
    expected_units = _seasonal_naive(grid, grid.units, params)
    expected_sales = _seasonal_naive(grid, grid.sales, params)
    s = score_windows(grid.units, expected_units, grid.day, HEURISTIC_SCORING)
    frame = long_rows([grid.rows(
        s.flag,
        direction=direction_codes(s.direction),
        severity_score=s.severity,
        units=grid.units,
        sales_value=grid.sales,
        version=grid.version,
        expected_units=expected_units,
        expected_sales_value=expected_sales,
    )], labels={"direction": DIRECTIONS})
    return frame.assign(model_version=HEURISTIC_VERSION)[_FLAGGED]


def _seasonal_naive(grid: StoreGrid, values: np.ndarray, params: DetectionParams) -> np.ndarray:
    day, slot = grid.day, grid.slot
    days = np.unique(day)
    day_index = np.searchsorted(days, day)
    by_slot = np.full((values.shape[0], len(days), TICKS_PER_DAY), np.nan)
    by_slot[:, day_index, slot] = values
    out = np.full(values.shape, np.nan)
    for i, d in enumerate(days):
        history = np.flatnonzero((days < d) & (days >= d - params.history_days))
        if len(history) < params.min_history_days:
            continue
        window = by_slot[:, history, :]
        seen = (~np.isnan(window)).sum(axis=1)
        # nanmean, without its warning for a slot never seen (silencing it is not thread-safe)
        mean = np.where(seen >= params.min_history_days, np.nansum(window, axis=1) / np.maximum(seen, 1), np.nan)
        on_day = day_index == i
        out[:, on_day] = mean[:, slot[on_day]]
    return out


def reports_from_flags(flagged: pd.DataFrame, params: DetectionParams = DetectionParams()) -> pd.DataFrame:
    """Group flagged ticks into reports and emit each report's cumulative state at every tick."""
    # A SKU with no sales history has no price, so no expected sales: it expected nothing.
    f = flagged.fillna({"expected_sales_value": 0.0}).sort_values(["store_id", "sku", "ts"], kind="stable")
    f = f.reset_index(drop=True)
    if f.empty:
        return pd.DataFrame(columns=_REPORT_COLUMNS)
    new_series = (f["store_id"] != f["store_id"].shift()) | (f["sku"] != f["sku"].shift())
    new_run = new_series | (f["direction"] != f["direction"].shift()) | (f["ts"].diff() > params.report_gap)
    run = new_run.cumsum()
    g = f.groupby(run, sort=False)
    first = g["ts"].transform("first")
    out = pd.DataFrame(
        {
            "store_id": f["store_id"],
            "sku": f["sku"],
            "first_detected_from": first,
            "window_start": first,
            "window_end": f["ts"],
            "direction": f["direction"],
            "observed_units": g["units"].cumsum(),
            "baseline_units": g["expected_units"].cumsum(),
            "observed_sales_total": g["sales_value"].cumsum(),
            "baseline_sales_total": g["expected_sales_value"].cumsum(),
            "severity_score": g["severity_score"].cummax().round(4),
            "written_at": f["ts"],
            "version": f["version"].astype("int64"),
            "model_version": f["model_version"],
        }
    )
    out["attributed_sales_total"] = out["observed_sales_total"] - out["baseline_sales_total"]
    starts = out.loc[new_run.to_numpy(), ["store_id", "sku", "first_detected_from"]]
    ids = pd.Series([stable_id(*row) for row in starts.itertuples(index=False)], index=starts.index)
    out.insert(0, "report_id", ids.reindex(out.index).ffill())
    return out[_REPORT_COLUMNS]


_REPORT_COLUMNS = [
    "report_id", "store_id", "sku", "first_detected_from", "window_start", "window_end", "direction",
    "observed_units", "baseline_units", "observed_sales_total", "baseline_sales_total", "attributed_sales_total",
    "severity_score", "written_at", "version", "model_version",
]
