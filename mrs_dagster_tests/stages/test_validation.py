import pandas as pd

from mrs_dagster.stages.validation import row_errors


def test_row_errors_joins_every_problem_of_a_row_in_order_and_leaves_valid_rows_blank():
    index = pd.Index([10, 11, 12, 13])
    problems = {
        "store_id is blank": pd.Series([True, False, True, False], index=index),
        "ts is not a timestamp": pd.Series([False, False, True, False], index=index),
        "units is not a finite number": pd.Series([False, True, True, False], index=index),
    }
    reasons = row_errors(problems, index)
    assert reasons.index.equals(index)
    assert reasons.tolist() == ["store_id is blank", "units is not a finite number",
                                "store_id is blank; ts is not a timestamp; units is not a finite number", ""]


def test_row_errors_of_rows_without_problems_are_all_blank():
    index = pd.RangeIndex(3)
    assert row_errors({"sku is blank": pd.Series(False, index=index)}, index).tolist() == ["", "", ""]
