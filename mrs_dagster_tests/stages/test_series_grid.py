import pandas as pd

from mrs_dagster.stages.frames import replaced_from
from mrs_dagster.stages.series_grid import data_gaps

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
