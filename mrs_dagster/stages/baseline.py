"""The baseline sales model: expected units per store x SKU x tick, learned from earlier days only.

expected = SKU level x store day-of-week factor x store time-of-day profile, where
- the SKU level is the median of its last `history_days` daily totals (each divided by its day's
  day-of-week factor), so a few anomalous hours or days do not move it;
- the day-of-week factor is the median ratio of the store's daily total on that weekday to the
  median daily total over the last `dow_history_days` (1 for a weekday not yet seen);
- the time-of-day profile is the median over the history days of the store's share of daily units
  per 5-minute slot, smoothed over neighbouring slots.
A day with fewer than `min_history_days` earlier days has no prediction (warm-up). Because every
prediction uses only days before its own, landing a new day never changes earlier predictions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mrs_dagster.contracts import BASELINE_SALES_MODEL_PREDICTION_LOG
from mrs_dagster.stages.series_grid import TICKS_PER_DAY, GridRows, StoreGrid, long_rows, map_store_grids
from mrs_dagster.stages.versions import model_log_rows, model_version

MODEL_VERSION = "seasonal-median-v1"


@dataclass(frozen=True)
class BaselineParams:
    history_days: int = 7
    min_history_days: int = 7
    dow_history_days: int = 28


# The whole days before a tick that its prediction depends on: the day-of-week history (the SKU
# level's `history_days` is capped to it), so an incremental run reads no more than that.
BASELINE_LOOKBACK_DAYS = BaselineParams.dow_history_days


def store_baseline(grid: StoreGrid, params: BaselineParams = BaselineParams()) -> tuple[np.ndarray, np.ndarray]:
    """(expected units, expected sales value) as (K, J) arrays, NaN where not predictable."""
    day, slot = grid.day, grid.slot
    days, day_start = np.unique(day, return_index=True)
    day_index = np.searchsorted(days, day)
    daily_units = np.add.reduceat(grid.units, day_start, axis=1)
    daily_sales = np.add.reduceat(grid.sales, day_start, axis=1)
    store_daily = daily_units.sum(axis=0)
    day_dow = grid.dow[day_start]

    tick_units = grid.units.sum(axis=0)
    shares = np.full((len(days), TICKS_PER_DAY), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares[day_index, slot] = tick_units / store_daily[day_index]

    expected = np.full(grid.units.shape, np.nan)
    expected_sales = np.full(grid.units.shape, np.nan)
    for i, d in enumerate(days):
        history = np.flatnonzero((days < d) & (days >= d - params.history_days))
        if len(history) < params.min_history_days:
            continue
        dow_history = np.flatnonzero((days < d) & (days >= d - params.dow_history_days))
        dow_factor = _dow_factors(store_daily[dow_history], day_dow[dow_history])
        history_factors = np.array([dow_factor.get(w, 1.0) for w in day_dow[history]])
        level = np.median(daily_units[:, history] / history_factors, axis=1)
        units_seen = daily_units[:, history].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            price = np.where(units_seen > 0, daily_sales[:, history].sum(axis=1) / units_seen, np.nan)
        profile = _profile(shares[history])
        on_day = day_index == i
        predicted = level[:, None] * dow_factor.get(day_dow[i], 1.0) * profile[slot[on_day]][None, :]
        expected[:, on_day] = predicted
        expected_sales[:, on_day] = predicted * price[:, None]
    return expected, expected_sales


def _dow_factors(store_daily: np.ndarray, dows: np.ndarray) -> dict[int, float]:
    ratio = store_daily / np.median(store_daily)
    return {int(w): float(np.median(ratio[dows == w])) for w in np.unique(dows)}


def _profile(history_shares: np.ndarray) -> np.ndarray:
    # Only the slots seen on some day: nanmedian warns of an all-NaN slot, and silencing a warning
    # (`warnings.catch_warnings`) is not safe in the threads stores are computed in.
    seen = ~np.isnan(history_shares).all(axis=0)
    median = np.full(history_shares.shape[1], np.nan)
    median[seen] = np.nanmedian(history_shares[:, seen], axis=0)
    kernel = np.ones(3)
    total = np.convolve(np.where(seen, median, 0.0), kernel, mode="same")
    count = np.convolve(seen.astype(float), kernel, mode="same")
    smooth = np.where(seen, total / np.maximum(count, 1), np.nan)
    return smooth / np.nansum(smooth)


def baseline_predictions(
    series: pd.DataFrame, run_id: str, params: BaselineParams = BaselineParams(), *, versions: pd.DataFrame | None = None
) -> pd.DataFrame:
    """`baseline_sales_model_prediction_log` rows for every predictable tick of the current series;
    `versions`: the stores' evaluation versions (see `map_store_grids`)."""
    def predicted_rows(grid: StoreGrid) -> GridRows:
        expected, expected_sales = store_baseline(grid, params)
        return grid.rows(~np.isnan(expected), expected_units=expected, expected_sales_value=expected_sales,
                         version=grid.version)

    parts = map_store_grids(predicted_rows, series, versions)
    model = model_version(MODEL_VERSION, params)
    return model_log_rows(long_rows(parts), BASELINE_SALES_MODEL_PREDICTION_LOG, model, run_id)
