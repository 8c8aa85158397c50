import pandas as pd

from mrs_dagster.stages.identity import stable_id, stable_ids


def test_stable_ids_are_the_stable_id_of_each_row_repeats_and_missing_starts_included():
    start = pd.Timestamp("2026-03-02 11:55", tz="UTC")
    kind = pd.Series(["sku", "store", "sku", "isolated", "sku"])
    key = pd.Series(["SKU0001", "327", "SKU0001", "r-9", "SKU0002"])
    starts = pd.Series([start, start, start, pd.NaT, start + pd.Timedelta(minutes=5)], dtype="datetime64[ns, UTC]")

    ids = stable_ids(kind, key, starts.to_numpy(dtype=object))

    assert list(ids) == [stable_id(*row) for row in zip(kind, key, starts)]
    assert ids[0] == ids[2] == stable_id("sku", "SKU0001", start) and ids[0] != ids[4]
    assert ids[3] == stable_id("isolated", "r-9", pd.NaT)


def test_stable_ids_of_no_rows_is_empty():
    assert len(stable_ids(pd.Series([], dtype=object), pd.Series([], dtype=object))) == 0
