import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mrs_dagster.contracts import TEXT_DTYPE
from mrs_dagster.stages.order import MAX_RUNS, distinct_by_order, is_sorted, repeated_rows

_ROWS = st.lists(st.tuples(st.sampled_from(["a", "b", None]), st.integers(0, 3)), max_size=12)


def _frame(rows) -> pd.DataFrame:
    return pd.DataFrame({"source_file": pd.array([r[0] for r in rows], dtype=TEXT_DTYPE),
                         "source_line": [r[1] for r in rows]})


@settings(max_examples=80, deadline=None)
@given(_ROWS)
def test_is_sorted_tells_rows_already_in_the_order_a_sort_would_give(rows):
    frame = _frame(rows)
    in_order = frame.sort_values(["source_file", "source_line"], kind="stable")
    no_missing = frame["source_file"].notna().all()

    assert is_sorted(frame, ["source_file", "source_line"]) == (no_missing and in_order.index.equals(frame.index))
    assert is_sorted(in_order, ["source_file", "source_line"]) == bool(no_missing)


@settings(max_examples=80, deadline=None)
@given(_ROWS)
def test_strictly_sorted_rows_are_sorted_rows_without_a_repeat(rows):
    frame = _frame(rows).sort_values(["source_file", "source_line"], kind="stable")
    repeats = frame.duplicated().any()

    assert is_sorted(frame, ["source_file", "source_line"], strictly=True) == (frame["source_file"].notna().all()
                                                                                 and not repeats)
    assert is_sorted(frame, ["source_file"], strictly=True) == (frame["source_file"].notna().all()
                                                                 and not frame["source_file"].duplicated().any())


@settings(max_examples=120, deadline=None)
@given(_ROWS)
def test_rows_shown_distinct_by_their_order_never_repeat(rows):
    frame = _frame(rows)

    if distinct_by_order(frame, ["source_file", "source_line"]):
        assert not frame.duplicated().any() and frame["source_file"].notna().all()


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(st.integers(1, 5), min_size=1, max_size=3), min_size=1, max_size=5))
def test_rows_read_back_from_files_each_in_order_show_distinct_rows(commits):
    """As a log's rows read back: the latest commit's files first, each commit's files in order,
    each file's rows in order (`commits`: the rows of each file of each commit)."""
    files, line = [], 0
    for sizes in commits:
        files.append([])
        for size in sizes:
            files[-1].append([("f", line + i) for i in range(size)])
            line += size
    read_back = [row for commit in reversed(files) for file in commit for row in file]

    assert distinct_by_order(_frame(read_back), ["source_file", "source_line"])


@pytest.mark.parametrize("rows, why", [
    ([("a", 1), ("a", 3), ("a", 2), ("a", 4)], "two runs' spans overlap, though no row repeats"),
    ([("a", 0), ("a", 2), ("a", 1)], "runs that ascend into each other read as one, which spans another"),
    ([("a", 1), ("a", 2), ("a", 2)], "a row repeats"),
    ([("a", 2), (None, 1)], "a value is missing"),
])
def test_rows_whose_order_does_not_show_them_distinct_are_not_said_to_be(rows, why):
    assert not distinct_by_order(_frame(rows), ["source_file", "source_line"]), why


def test_more_runs_than_max_runs_are_taken_for_rows_out_of_order():
    descending = [("a", line) for line in range(MAX_RUNS, -1, -1)]  # each row a run of its own

    assert distinct_by_order(_frame(descending), ["source_file", "source_line"])  # MAX_RUNS runs
    assert not distinct_by_order(_frame([("a", MAX_RUNS + 1), *descending]), ["source_file", "source_line"])


_DAYS = [pd.Timestamp("2026-03-02", tz="UTC"), pd.Timestamp("2026-03-03", tz="UTC"), pd.NaT]
_CELLS = st.tuples(st.sampled_from(["a", "b", None]), st.sampled_from([0, 1, None]), st.sampled_from(_DAYS),
                   st.integers(-2, 2))


@settings(max_examples=150, deadline=None)
@given(st.lists(_CELLS, max_size=16), st.permutations(["text", "number", "time", "integer"]))
def test_repeated_rows_are_pandas_duplicated_in_any_order_of_the_columns(rows, columns):
    frame = pd.DataFrame({
        "text": pd.array([r[0] for r in rows], dtype=TEXT_DTYPE),
        "number": pd.array([r[1] for r in rows], dtype="float64"),
        "time": pd.array([r[2] for r in rows], dtype="datetime64[ns, UTC]"),
        "integer": pd.array([r[3] for r in rows], dtype="int64"),
    })

    assert np.array_equal(repeated_rows(frame, columns), frame.duplicated(columns, keep="first").to_numpy())


def test_repeated_rows_fold_columns_whose_codes_together_overflow_an_integer():
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({f"c{i}": rng.permutation(70_000) for i in range(4)})  # 70,000**4 > 2**62
    frame = pd.concat([frame, frame.iloc[[3, 17]]], ignore_index=True)

    assert list(np.flatnonzero(repeated_rows(frame, list(frame.columns)))) == [70_000, 70_001]
