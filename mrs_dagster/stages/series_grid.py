"""A store's sales as dense arrays: SKUs x ticks, zero where a SKU sold nothing.

A store's ticks on a day run from its first to its last delivered tick that day: a tick with no row
for a SKU inside that span means the SKU sold nothing; outside it the store was not trading.
Missing data is not a stockout: a run of at least `MIN_SILENT_TICKS` ticks inside that span with
no row for any SKU is a data gap (the feed went silent, as ThirdEye's DATA_MISSING), and its
ticks are left out of the grid, so nothing scores them as zero sales until the data arrives. A
day on which other stores delivered and this one did not is a data gap too (`data_gaps`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pandas as pd

from mrs_dagster.stages.frames import labelled_text, repeated_text, sorted_codes
from mrs_dagster.stages.ingest import daily_summary
from mrs_dagster.stages.timestamps import TICK
from mrs_dagster.stages.versions import evaluation_versions, feed_versions, version_at

TICKS_PER_DAY = 288
MIN_SILENT_TICKS = 6  # 30 minutes without a row for any SKU
STORE_THREADS = min(4, os.cpu_count() or 1)  # see `map_store_grids`
_NS_PER_DAY = 86_400 * 10**9
_NS_PER_TICK = TICK.value
T = TypeVar("T")


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

    def rows(self, keep: np.ndarray | None = None, **columns: np.ndarray) -> GridRows:
        """The cells where `keep` (a (K, J) mask; None: all), by tick and then SKU, with `columns`:
        each a (K, J) array, or a (J,) array of one value per tick."""
        cells = np.flatnonzero(keep.T) if keep is not None else np.arange(len(self.skus) * len(self.ticks))
        tick, sku = np.divmod(cells, len(self.skus))
        values = {name: np.asarray(v)[tick] if np.ndim(v) == 1 else np.asarray(v)[sku, tick]
                  for name, v in columns.items()}
        return GridRows(self.store_id, self.skus, sku, self.ticks.asi8[tick], values)

    def cells(self, rows: StoreRows, at: np.ndarray, values: np.ndarray, fill: float = np.nan) -> np.ndarray:
        """A (K, J) array of `values` (one per row of `rows`) from this store's rows of `rows` (their
        positions `at`); rows off the grid are ignored."""
        out = np.full((len(self.skus), len(self.ticks)), fill, dtype=float)
        k = pd.Index(self.skus).get_indexer(rows.skus)[rows.sku_codes[at]]
        j = pd.Index(self.ticks.asi8).get_indexer(rows.ts_ns[at])
        on_grid = (k >= 0) & (j >= 0)
        out[k[on_grid], j[on_grid]] = np.asarray(values, dtype=float)[at][on_grid]
        return out


@dataclass(frozen=True)
class GridRows:
    """Long rows of one store's grid (`StoreGrid.rows`), by tick and then SKU: each row's SKU as a
    position in `skus`, its tick in nanoseconds, and its `columns`."""

    store_id: str
    skus: np.ndarray
    sku_codes: np.ndarray
    ts_ns: np.ndarray
    columns: dict[str, np.ndarray]


def long_rows(parts: list[GridRows], labels: dict[str, tuple[str, ...]] | None = None) -> pd.DataFrame:
    """Long rows (store_id, sku, ts, <columns>) of many stores' `GridRows`, in (ts, store_id, sku)
    order, the order the model logs are stored in (so a write neither sorts nor dedups them: see
    `Dataset.key_duplicated`). The columns named in `labels` hold codes (-1: missing) of those labels. Text
    stays integer codes until the end and becomes Arrow-backed (`TEXT_DTYPE`) in one pass per
    column: reordering the text of ten million rows costs seconds."""
    if not parts:
        return pd.DataFrame({"store_id": repeated_text("", 0), "sku": repeated_text("", 0),
                             "ts": pd.DatetimeIndex([], tz="UTC")})
    parts = sorted(parts, key=lambda part: part.store_id)
    ts_ns = np.concatenate([part.ts_ns for part in parts])
    # Each part is in tick order already, so the stable sort merges them, keeping stores in order.
    order = np.argsort(ts_ns, kind="stable")
    skus = np.unique(np.concatenate([part.skus for part in parts]))
    sku_codes = np.concatenate([np.searchsorted(skus, part.skus)[part.sku_codes] for part in parts])
    stores = np.repeat(np.arange(len(parts)), [len(part.ts_ns) for part in parts])
    frame = pd.DataFrame({
        "store_id": labelled_text([part.store_id for part in parts], stores[order]),
        "sku": labelled_text(skus, sku_codes[order]),
        "ts": pd.DatetimeIndex(ts_ns[order].view("M8[ns]")).tz_localize("UTC"),
    })
    for name in parts[0].columns:
        values = np.concatenate([part.columns[name] for part in parts])[order]
        frame[name] = labelled_text(labels[name], values) if name in (labels or {}) else values
    return frame


@dataclass(frozen=True)
class StoreRows:
    """Long rows with a store and a SKU, as numbers: the row positions of each store (in store
    order), each row's SKU as a position in `skus` (sorted) and its tick in nanoseconds. Taking a
    store's rows then takes numbers only: taking its text, store by store, cost seconds a log."""

    positions: dict[str, np.ndarray]
    skus: np.ndarray
    sku_codes: np.ndarray
    ts_ns: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame) -> StoreRows:
        stores, store_codes = sorted_codes(frame["store_id"])
        skus, sku_codes = sorted_codes(frame["sku"])
        # A stable sort of small integers is a radix sort in numpy: 0.09 s for ten million rows.
        order = np.argsort(store_codes.astype(np.int16 if len(stores) < 2**15 else np.int64), kind="stable")
        bounds = np.cumsum(np.bincount(store_codes, minlength=len(stores)))[:-1]
        positions = dict(zip(stores.tolist(), np.split(order, bounds)))
        return cls(positions, skus, sku_codes, pd.DatetimeIndex(frame["ts"]).asi8)


def store_grid(store_id: str, rows: StoreRows, units: np.ndarray, sales: np.ndarray,
               versions: pd.DataFrame) -> StoreGrid:
    """The dense grid of one store of a current series (`rows`: its `StoreRows`; `units` and `sales`:
    its values, a row each), its ticks versioned by `versions` (`stages.versions.evaluation_versions`)."""
    at = rows.positions[store_id]
    ts_ns = rows.ts_ns[at]
    ticks, silent = _trading_ticks(ts_ns)
    ticks = ticks[~silent]
    tick_index = pd.DatetimeIndex(ticks, tz="UTC")
    codes = rows.sku_codes[at]
    present = np.unique(codes)
    k = np.searchsorted(present, codes)
    j = np.searchsorted(ticks, ts_ns)
    shape = (len(present), len(ticks))
    grid_units, grid_sales = np.zeros(shape), np.zeros(shape)
    grid_units[k, j] = units[at]
    grid_sales[k, j] = sales[at]
    version = version_at(pd.DataFrame({"store_id": store_id, "ts": tick_index}), versions, "ts")
    return StoreGrid(store_id, rows.skus[present], tick_index, grid_units, grid_sales, version)


def map_store_grids(compute: Callable[[StoreGrid], T], series: pd.DataFrame,
                    versions: pd.DataFrame | None = None) -> list[T]:
    """`compute` of each store's StoreGrid, in store order. `versions`: the stores' evaluation
    versions (default: the series' own feed versions, under the first model generation).

    `STORE_THREADS` stores are gridded and computed at a time: NumPy lets go of the GIL in its
    loops over a store's arrays, so another core takes the next store meanwhile (the classifier's
    50 stores of 200 SKUs x 14 days: 3.3 s in one thread, 2.1 s in two on two cores). `compute`
    must not change shared state; the result is the same however many threads run it."""
    if versions is None:
        versions = evaluation_versions(feed_versions(daily_summary(series)))
    rows = StoreRows.of(series)
    units, sales = series["units"].to_numpy(dtype=float), series["sales_value"].to_numpy(dtype=float)

    def computed(store_id: str) -> T:
        return compute(store_grid(store_id, rows, units, sales, versions[versions["store_id"] == store_id]))

    with ThreadPoolExecutor(STORE_THREADS) as pool:
        return list(pool.map(computed, rows.positions))


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
    stores delivered and it did not, from the `store_id` and `ts` of `series` (a series, or just
    the distinct ticks of each store: the same gaps). Columns store_id, gap_start, gap_end (last
    missing tick), ticks.
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
