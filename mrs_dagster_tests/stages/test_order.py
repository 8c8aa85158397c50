import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from mrs_dagster.contracts import TEXT_DTYPE
from mrs_dagster.stages.order import is_sorted

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
