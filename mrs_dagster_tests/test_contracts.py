import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from mrs_dagster.contracts import (
    ANOMALY_CLASSIFIER_MODEL_PREDICTION_LOG, BASELINE_SALES_MODEL_PREDICTION_LOG, TEXT_DTYPE, conform, duplicate_keys,
)

_KEYS = st.tuples(st.sampled_from(["s1", "s2"]), st.sampled_from(["A", "B"]), st.integers(0, 2), st.integers(1, 2))


def _log_keys(rows) -> pd.DataFrame:
    return pd.DataFrame({
        "store_id": pd.array([r[0] for r in rows], dtype=TEXT_DTYPE),
        "sku": pd.array([r[1] for r in rows], dtype=TEXT_DTYPE),
        "ts": pd.to_datetime([r[2] for r in rows], unit="h", utc=True),
        "version": [r[3] for r in rows],
        "run_id": pd.array(["r"] * len(rows), dtype=TEXT_DTYPE),
    })


@settings(max_examples=120, deadline=None)
@given(st.lists(_KEYS, max_size=14), st.booleans())
def test_key_duplicated_is_pandas_duplicated_on_the_key_in_or_out_of_the_stored_order(rows, stored_order):
    log = ANOMALY_CLASSIFIER_MODEL_PREDICTION_LOG
    keys = _log_keys(rows)
    if stored_order:  # the order a model log is written in, where the check's shortcut applies
        keys = keys.sort_values(list(log.sort_by), kind="stable", ignore_index=True)

    expected = keys.duplicated(list(log.key), keep="first").to_numpy()

    assert np.array_equal(log.key_duplicated(keys), expected)
    assert duplicate_keys(log, keys) == expected.sum()


@settings(max_examples=120, deadline=None)
@given(st.lists(_KEYS, max_size=14), st.booleans())
def test_rows_in_key_order_are_sorted_for_writing_and_repeat_no_key(rows, stored_order):
    log = ANOMALY_CLASSIFIER_MODEL_PREDICTION_LOG
    keys = _log_keys(rows)
    if stored_order:
        keys = keys.sort_values(list(log.sort_by), kind="stable", ignore_index=True)
    in_order = keys.sort_values(list(log.sort_by), kind="stable", ignore_index=True)

    assert log.in_key_order(keys) == (keys.equals(in_order) and not keys.duplicated(list(log.sort_by)).any())
    if log.in_key_order(keys):
        assert not keys.duplicated(list(log.key)).any()


def test_rows_in_the_stored_order_with_a_repeated_tick_still_count_as_duplicates():
    log = ANOMALY_CLASSIFIER_MODEL_PREDICTION_LOG
    keys = _log_keys([("s1", "A", 0, 1), ("s1", "A", 0, 1), ("s1", "B", 0, 1), ("s2", "A", 1, 1)])

    assert list(log.key_duplicated(keys)) == [False, True, False, False]


def _baseline_rows(n: int) -> pd.DataFrame:
    ts = pd.date_range("2026-03-02", periods=n, freq="5min", tz="UTC")
    return pd.DataFrame({
        "store_id": pd.array(["301"] * n, dtype=TEXT_DTYPE), "sku": pd.array(["A"] * n, dtype=TEXT_DTYPE), "ts": ts,
        "expected_units": np.arange(n, dtype=float), "expected_sales_value": np.ones(n), "model_version": "v1",
        "written_at": ts, "version": np.ones(n, dtype="int64"), "run_id": pd.array(["r"] * n, dtype=TEXT_DTYPE),
    })


def test_conforming_copies_no_column_already_in_its_contract_dtype_and_coerces_the_others():
    rows = _baseline_rows(5).assign(version=[1.0, 1.0, 2.0, 1.0, 1.0])  # a float version, coerced to int

    conformed = conform(BASELINE_SALES_MODEL_PREDICTION_LOG, rows)

    assert np.shares_memory(conformed["expected_units"].to_numpy(), rows["expected_units"].to_numpy())
    assert conformed["version"].dtype == "int64" and rows["version"].dtype == "float64"
    pd.testing.assert_frame_equal(conformed.astype({"version": float}), rows[conformed.columns])

