import threading

import numpy as np
import pandas as pd

from mrs_dagster.contracts import TEXT_DTYPE
from mrs_dagster.stages.frames import replaced_from
from mrs_dagster.stages.order import is_sorted
from mrs_dagster.stages import series_grid
from mrs_dagster.stages.series_grid import StoreRows, data_gaps, long_rows, map_store_grids

DAYS = pd.date_range("2026-03-09", periods=3, freq="D", tz="UTC")


def _delivered(store_id: str, day: pd.Timestamp, silent: tuple[str, str] | None = None) -> pd.DataFrame:
    ticks = pd.date_range(day + pd.Timedelta(hours=8), day + pd.Timedelta(hours=10), freq="5min")
    if silent:
        ticks = ticks[(ticks < day + pd.Timedelta(silent[0])) | (ticks > day + pd.Timedelta(silent[1]))]
    return pd.DataFrame({"store_id": store_id, "sku": "SKU0001", "ts": ticks})


def test_data_gaps_of_the_days_from_one_on_with_the_earlier_days_kept_are_those_of_all_history():
    series = pd.concat([
        *(_delivered("A", day) for day in DAYS[:2]), _delivered("A", DAYS[2], silent=("09:00:00", "09:35:00")),
        _delivered("B", DAYS[0]),  # then stops delivering
        _delivered("C", DAYS[0]), _delivered("C", DAYS[2]),
    ], ignore_index=True)
    gaps = data_gaps(series)
    found = {(g.store_id, g.gap_start, g.ticks) for g in gaps.itertuples()}
    assert found == {("A", DAYS[2] + pd.Timedelta("09:00:00"), 8), ("B", DAYS[1] + pd.Timedelta("08:00:00"), 25),
                     ("B", DAYS[2] + pd.Timedelta("08:00:00"), 25), ("C", DAYS[1] + pd.Timedelta("08:00:00"), 25)}

    first = DAYS[1]
    earlier, later = series[series["ts"] < first], series[series["ts"] >= first]
    recomputed = data_gaps(later, stores=series["store_id"].unique())
    updated = replaced_from(data_gaps(earlier), recomputed, "gap_start", first)
    pd.testing.assert_frame_equal(updated.sort_values(["store_id", "gap_start"], ignore_index=True), gaps)
    assert "B" not in set(data_gaps(later)["store_id"])  # without its stores, a store that stopped is not seen


def _series(rng: np.random.Generator) -> pd.DataFrame:
    """Two stores with SKUs and trading hours of their own, rows in no order."""
    rows = []
    for store_id, skus, hours in (("S2", ["B", "A", "C"], (8, 9)), ("S1", ["A", "D"], (8, 10))):
        opens, closes = (DAYS[0] + pd.Timedelta(hours=hour) for hour in hours)
        ticks = pd.date_range(opens, closes, freq="5min")
        for sku in skus:
            sold = ticks[rng.random(len(ticks)) < 0.6]
            rows.append(pd.DataFrame({"store_id": store_id, "sku": sku, "ts": sold,
                                      "units": rng.integers(1, 5, len(sold)), "sales_value": 1.5, "feed_version": 1}))
    series = pd.concat(rows, ignore_index=True).sample(frac=1, random_state=1, ignore_index=True)
    return series.astype({"store_id": TEXT_DTYPE, "sku": TEXT_DTYPE, "units": float})


def test_store_rows_give_each_store_its_row_positions_and_each_row_its_sku():
    series = _series(np.random.default_rng(3))

    rows = StoreRows.of(series)

    assert list(rows.positions) == ["S1", "S2"]
    for store_id, at in rows.positions.items():
        assert sorted(at) == sorted(np.flatnonzero(series["store_id"] == store_id))
    assert list(rows.skus) == sorted(rows.skus)
    assert list(rows.skus[rows.sku_codes]) == list(series["sku"])


def test_stores_are_computed_side_by_side_and_come_back_in_store_order(monkeypatch):
    monkeypatch.setattr(series_grid, "STORE_THREADS", 2)
    both_computing = threading.Barrier(2, timeout=30)  # broken, and raising, unless two stores meet in it

    def compute(grid):
        both_computing.wait()
        return grid.store_id

    assert map_store_grids(compute, _series(np.random.default_rng(2))) == ["S1", "S2"]


def test_long_rows_of_many_grids_are_their_kept_cells_in_tick_store_sku_order():
    series = _series(np.random.default_rng(4))
    grids = map_store_grids(lambda grid: grid, series)
    keep = [grid.units > 1 for grid in grids]

    rows = long_rows([grid.rows(kept, units=grid.units, version=grid.version + 1, direction=np.where(kept, 1, -1))
                      for grid, kept in zip(grids[::-1], keep[::-1])], labels={"direction": ("spike", "drop")})

    sold = series[series["units"] > 1]
    expected = pd.DataFrame({"store_id": sold["store_id"], "sku": sold["sku"], "ts": sold["ts"], "units": sold["units"],
                             "version": 2, "direction": pd.array(["drop"] * len(sold), dtype=TEXT_DTYPE)})
    expected = expected.sort_values(["ts", "store_id", "sku"], ignore_index=True)
    pd.testing.assert_frame_equal(rows, expected, check_dtype=False)
    assert rows["store_id"].dtype == rows["sku"].dtype == TEXT_DTYPE
    assert is_sorted(rows, ["ts", "store_id", "sku"], strictly=True)


def test_a_grid_takes_a_stores_values_from_long_rows_by_their_codes():
    series = _series(np.random.default_rng(5))
    grids = map_store_grids(lambda grid: grid, series)
    rows = StoreRows.of(series)

    for grid in grids:
        at = rows.positions[grid.store_id]
        np.testing.assert_array_equal(grid.cells(rows, at, series["units"].to_numpy(), fill=0.0), grid.units)


def test_data_gaps_of_each_stores_distinct_ticks_are_those_of_its_whole_series():
    """What health passes: the store ticks, not every SKU's and feed_version's row."""
    one_sku = pd.concat([_delivered("A", DAYS[0]), _delivered("A", DAYS[1], silent=("08:30:00", "09:05:00")),
                         _delivered("B", DAYS[1])], ignore_index=True)
    series = pd.concat([one_sku.assign(feed_version=1), one_sku.assign(sku="SKU0002", feed_version=1),
                        one_sku[one_sku["store_id"] == "A"].assign(feed_version=2)], ignore_index=True)
    ticks = series[["store_id", "ts"]].drop_duplicates().sample(frac=1, random_state=2)

    gaps = data_gaps(series, ["C"])
    assert set(gaps["store_id"]) == {"A", "B", "C"}  # a silent run, a missed day, every day missed
    pd.testing.assert_frame_equal(data_gaps(ticks, ["C"]), gaps)
