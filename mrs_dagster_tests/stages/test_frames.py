import warnings

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from mrs_dagster.contracts import TEXT_DTYPE
from mrs_dagster.stages.frames import (
    concat_rows,
    in_batches,
    labelled_text,
    repeated_text,
    rows_among,
    set_columns,
    text_positions,
)


def test_concat_rows_keeps_text_read_from_the_lake_when_an_empty_frame_joins_it():
    read = pd.DataFrame({"store_id": pd.array(["301", "302"], dtype=TEXT_DTYPE), "units": [1.0, 2.0]}, index=[5, 6])
    empty = pd.DataFrame({"store_id": pd.Series(dtype=object), "units": pd.Series(dtype=float)})
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        rows = concat_rows([empty, read, empty])
    assert rows["store_id"].dtype == TEXT_DTYPE and rows["store_id"].tolist() == ["301", "302"]
    assert rows.index.tolist() == [0, 1]


def test_concat_rows_of_frames_without_rows_is_the_first():
    first = pd.DataFrame(columns=["store_id", "sku"])
    assert concat_rows([first, pd.DataFrame(columns=["other"])]) is first


def test_text_positions_finds_each_value_in_the_labels_minus_one_for_absent_or_missing():
    values = pd.Series(["327", "301", None, "999", "327"], dtype=TEXT_DTYPE)

    assert text_positions(values, np.array(["301", "327"], dtype=object)).tolist() == [1, 0, -1, -1, 1]
    assert text_positions(pd.Series(["b", np.nan], dtype=object), ["a", "b"]).tolist() == [1, -1]
    assert text_positions(pd.Series([None], dtype=object), ["a"]).tolist() == [-1]
    assert text_positions(pd.Series([], dtype=object), ["a"]).tolist() == []


def test_in_batches_groups_consecutive_parts_until_they_hold_the_rows_and_keeps_the_rest():
    assert list(in_batches([[1, 2], [3], [4, 5, 6], [7]], 3)) == [[[1, 2], [3]], [[4, 5, 6]], [[7]]]
    assert list(in_batches([("a", 5), ("b", 1)], 2, size=lambda part: part[1])) == [[("a", 5)], [("b", 1)]]
    assert list(in_batches([], 3)) == []


def test_text_columns_are_made_as_arrow_backed_text():
    assert repeated_text("demo-run-001", 3).tolist() == ["demo-run-001"] * 3
    assert repeated_text("x", 0).tolist() == []
    labelled = labelled_text(("spike", "drop"), np.array([1, -1, 0]))
    assert labelled.dtype == TEXT_DTYPE and labelled.tolist()[0::2] == ["drop", "spike"] and pd.isna(labelled[1])
    frame = set_columns(pd.DataFrame({"units": [1.0, 2.0]}), run_id="r", version=np.array([1, 2]))
    assert frame["run_id"].dtype == TEXT_DTYPE and frame["version"].tolist() == [1, 2]


TICKS = pd.date_range("2026-03-02", periods=3, freq="5min", tz="UTC")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["301", "302", "327"]), st.sampled_from(["A", "B"]), st.integers(0, 2)),
                max_size=25),
       st.lists(st.tuples(st.sampled_from(["301", "327", "999"]), st.sampled_from(["A", "B", "C"]), st.integers(0, 2)),
                max_size=8))
def test_rows_among_keeps_exactly_the_rows_a_merge_with_the_keys_matches(rows, keys):
    def frame(cells, text_dtype):
        return pd.DataFrame({"store_id": pd.array([c[0] for c in cells], dtype=text_dtype),
                             "sku": pd.array([c[1] for c in cells], dtype=text_dtype),
                             "ts": TICKS[[c[2] for c in cells]]})
    log = frame(rows, TEXT_DTYPE).assign(units=np.arange(len(rows), dtype=float))
    wanted = frame(keys, object)
    merged = log.merge(wanted.drop_duplicates(), on=["store_id", "sku", "ts"])

    among = rows_among(log, wanted)

    assert sorted(among["units"]) == sorted(merged["units"])
