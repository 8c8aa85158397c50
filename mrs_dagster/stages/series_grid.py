"""A store's sales as dense arrays: SKUs x ticks, zero where a SKU sold nothing.

A store's ticks on a day run from its first to its last delivered tick that day: a tick with no row
for a SKU inside that span means the SKU sold nothing; outside it the store was not trading.
Missing data is not a stockout: a run of at least `MIN_SILENT_TICKS` ticks inside that span with
no row for any SKU is a data gap (the feed went silent, as ThirdEye's DATA_MISSING), and its
ticks are left out of the grid, so nothing scores them as zero sales until the data arrives. A
day on which other stores delivered and this one did not is a data gap too (`data_gaps`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mrs_dagster.stages.frames import labelled_text, repeated_text, text_positions
from mrs_dagster.stages.ingest import daily_summary
from mrs_dagster.stages.timestamps import TICK
from mrs_dagster.stages.versions import evaluation_versions, feed_versions, version_at

TICKS_PER_DAY = 288
MIN_SILENT_TICKS = 6  # 30 minutes without a row for any SKU
_NS_PER_DAY = 86_400 * 10**9
_NS_PER_TICK = TICK.value


@dataclass(frozen=True)
class StoreGrid:
    store_id: str
    skus: np.ndarray  # (K,)
    ticks: pd.DatetimeIndex  # (J,) UTC, ascending
    units: np.ndarray  # (K, J)
    sales: np.ndarray  # (K, J)
    version: np.ndarray  # (J,) the store's evaluation version at each tick (see stages.versions)

    @property
    def day(self) -> np.ndarray:
        return self.ticks.asi8 // _NS_PER_DAY

    @property
    def slot(self) -> np.ndarray:
        return (self.ticks.asi8 % _NS_PER_DAY) // _NS_PER_TICK

    @property
    def dow(self) -> np.ndarray:
        return np.asarray(self.ticks.dayofweek)

    def tick_versions(self) -> np.ndarray:
        """(K, J): the evaluation version of every cell."""
        return np.broadcast_to(self.version, (len(self.skus), len(self.ticks)))

    def long(self, **columns: np.ndarray | pd.api.extensions.ExtensionArray) -> pd.DataFrame:
        """Long rows (store_id, sku, ts, <columns>) for (K, J) arrays, SKU-major (a column already
        long, such as `labelled_text`'s, is taken as it is). Text is Arrow-backed (`TEXT_DTYPE`)."""
        k, j = len(self.skus), len(self.ticks)
        frame = pd.DataFrame(
            {
                "store_id": repeated_text(self.store_id, k * j),
                "sku": labelled_text(self.skus, np.repeat(np.arange(k), j)),
                "ts": pd.DatetimeIndex(np.tile(self.ticks.asi8, k).view("M8[ns]")).tz_localize("UTC"),
            }
        )
        for name, values in columns.items():
            long_already = isinstance(values, pd.api.extensions.ExtensionArray)
            frame[name] = values if long_already else np.asarray(values).reshape(-1)
        return frame

    def cells(self, frame: pd.DataFrame, column: str, fill: float = np.nan) -> np.ndarray:
        """A (K, J) array of `column` from long rows of this store (rows off the grid ignored)."""
        out = np.full((len(self.skus), len(self.ticks)), fill, dtype=float)
        k = text_positions(frame["sku"], self.skus)
        j = self.ticks.get_indexer(pd.DatetimeIndex(frame["ts"]))
        on_grid = (k >= 0) & (j >= 0)
        out[k[on_grid], j[on_grid]] = frame[column].to_numpy(dtype=float)[on_grid]
        return out


def store_grid(store_series: pd.DataFrame, versions: pd.DataFrame) -> StoreGrid:
    """The dense grid of one store's current series (columns store_id, sku, ts, units, sales_value),
    its ticks versioned by `versions` (`stages.versions.evaluation_versions`)."""
    ts_ns = pd.DatetimeIndex(store_series["ts"]).asi8
    ticks, silent = _trading_ticks(ts_ns)
    ticks = ticks[~silent]
    tick_index = pd.DatetimeIndex(ticks, tz="UTC")
    skus = np.sort(store_series["sku"].unique())
    k = text_positions(store_series["sku"], skus)
    j = np.searchsorted(ticks, ts_ns)
    shape = (len(skus), len(ticks))
    units, sales = np.zeros(shape), np.zeros(shape)
    units[k, j] = store_series["units"].to_numpy(dtype=float)
    sales[k, j] = store_series["sales_value"].to_numpy(dtype=float)
    store_id = str(store_series["store_id"].iloc[0])
    version = version_at(pd.DataFrame({"store_id": store_id, "ts": tick_index}), versions, "ts")
    return StoreGrid(store_id, skus, tick_index, units, sales, version)


def store_grids(series: pd.DataFrame, versions: pd.DataFrame | None = None):
    """Yield a StoreGrid per store, in store order. `versions`: the stores' evaluation versions
    (default: the series' own feed versions, under the first model generation)."""
    if versions is None:
        versions = evaluation_versions(feed_versions(daily_summary(series)))
    for store_id, store_series in series.groupby("store_id", sort=True):
        yield store_grid(store_series, versions[versions["store_id"] == store_id])


def _trading_ticks(ts_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A store's trading ticks (first to last delivered tick of each day) and which of them lie in
    a silent run of at least MIN_SILENT_TICKS."""
    day = ts_ns // _NS_PER_DAY
    spans = pd.DataFrame({"day": day, "ts": ts_ns}).groupby("day")["ts"].agg(["min", "max"])
    ticks = np.concatenate([np.arange(lo, hi + 1, _NS_PER_TICK) for lo, hi in zip(spans["min"], spans["max"])])
    empty = np.ones(len(ticks), dtype=bool)
    empty[np.searchsorted(ticks, np.unique(ts_ns))] = False
    edges = np.flatnonzero(np.diff(np.concatenate([[0], empty.astype(np.int8), [0]])))
    silent = np.zeros(len(ticks), dtype=bool)
    for start, end in zip(edges[::2], edges[1::2]):
        if end - start >= MIN_SILENT_TICKS:
            silent[start:end] = True
    return ticks, silent


def data_gaps(series: pd.DataFrame, stores=()) -> pd.DataFrame:
    """Where a store's data is missing: silent runs inside its trading hours, and days other
    stores delivered and it did not. Columns store_id, gap_start, gap_end (last missing tick), ticks.
    A gap lies within a day, so a scoped run finds those of the days from its first tick's on;
    `stores` are those to report on beside the series' own (a store without a row in `series`
    missed every day of it)."""
    rows = []
    all_days = series.groupby(series["ts"].dt.normalize())["ts"].agg(["min", "max"])

    def missing(store_id, days: pd.Index) -> None:
        for day in days:
            lo, hi = all_days.loc[day, "min"], all_days.loc[day, "max"]
            rows.append((store_id, lo.value, hi.value, (hi - lo) // TICK + 1))

    delivered = series.groupby("store_id", sort=True)
    for store_id, store_series in delivered:
        ticks, silent = _trading_ticks(pd.DatetimeIndex(store_series["ts"]).asi8)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], silent.astype(np.int8), [0]])))
        for start, end in zip(edges[::2], edges[1::2]):
            rows.append((store_id, ticks[start], ticks[end - 1], end - start))
        missing(store_id, all_days.index.difference(store_series["ts"].dt.normalize().unique()))
    for store_id in sorted(set(stores) - set(series["store_id"].unique())):
        missing(store_id, all_days.index)
    gaps = pd.DataFrame(rows, columns=["store_id", "gap_start", "gap_end", "ticks"])
    for column in ("gap_start", "gap_end"):
        gaps[column] = pd.to_datetime(gaps[column].astype("int64"), utc=True)
    return gaps.sort_values(["store_id", "gap_start"]).reset_index(drop=True)
