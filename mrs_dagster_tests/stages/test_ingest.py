"""Tolerant parsing and dead letters: every valid row kept, every invalid row explained."""

import json
from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mrs_dagster.contracts import SALES_TIMESERIES_DATA, TEXT_DTYPE
from mrs_dagster.landing import read_delivery
from mrs_dagster.stages.ingest import current_sales_series, daily_summary, parse_sales_rows, sales_timeseries
from mrs_dagster.stages.order import is_sorted
from mrs_dagster.stages.timestamps import parse_timestamps

TICK_10 = pd.Timestamp("2026-03-02 10:00", tz="UTC")


def test_every_timestamp_form_reads_as_the_same_utc_tick():
    forms = pd.Series(
        ["2026-03-02T10:00:00Z", "2026-03-02T11:00:00+01:00", "2026-03-02T05:00:00-0500", "2026-03-02 10:00:00",
         "2026-03-02T10:00:00", "2026-03-02T10:00:00.000+00:00", "2026-03-02 10:00"]
    )
    assert (parse_timestamps(forms) == TICK_10).all()


@pytest.mark.parametrize("cells", [["2026-03-02T12:00:00+02:00", "2026-03-02 10:00:00"],
                                   ["2026-03-02 10:00:00", "2026-03-02T12:00:00+02:00"]])
def test_naive_and_zoned_values_in_one_column_do_not_contaminate_each_other(cells):
    assert list(parse_timestamps(pd.Series(cells))) == [TICK_10, TICK_10]


@pytest.mark.parametrize("first", ["", "not a time", "2026-03-02 10:00:00Z"])
def test_a_column_is_parsed_whatever_its_first_cell_says_of_the_others(first):
    """The first cell picks which form is tried first; the others are read as they are."""
    parsed = parse_timestamps(pd.Series([first, "2026-03-02T11:00:00+01:00", "2026-03-02T10:00:00Z"]))
    assert list(parsed.iloc[1:]) == [TICK_10, TICK_10]
    assert pd.isna(parsed.iloc[0]) == (first != "2026-03-02 10:00:00Z")


def test_an_empty_column_parses_to_no_timestamps():
    assert parse_timestamps(pd.Series([], dtype=TEXT_DTYPE)).empty


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1)),
                          st.sampled_from(["Z", "+01:00", "-0530", "+00:00"]), st.booleans()), min_size=1, max_size=8))
def test_a_column_all_zoned_reads_as_pandas_reads_it_whatever_its_index(cells):
    text = [f"{moment.isoformat(timespec='milliseconds' if fraction else 'seconds')}{zone}"
            for moment, zone, fraction in cells]
    values = pd.Series(text, index=range(10, 10 + len(text)), dtype=TEXT_DTYPE)

    expected = pd.to_datetime(values, utc=True, format="ISO8601")

    pd.testing.assert_series_equal(parse_timestamps(values), expected)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1)),
                          st.sampled_from(["T", " "]), st.sampled_from(["seconds", "minutes", "milliseconds"])),
                min_size=1, max_size=8))
def test_a_column_all_naive_reads_as_utc_as_pandas_reads_it(cells):
    text = [moment.isoformat(sep=sep, timespec=timespec) for moment, sep, timespec in cells]
    values = pd.Series(text, index=range(10, 10 + len(text)), dtype=TEXT_DTYPE)

    expected = pd.to_datetime(values, utc=True, format="ISO8601")

    pd.testing.assert_series_equal(parse_timestamps(values), expected)


def test_datetime_columns_from_parquet_are_read_as_utc():
    naive = pd.Series(pd.to_datetime(["2026-03-02 10:00:00"]))
    assert parse_timestamps(naive).iloc[0] == TICK_10


def raw_rows(rows):
    return pd.DataFrame(rows, columns=["retailer", "store_id", "sku", "ts", "units", "sales_value", "feed_version"])


def test_bad_rows_become_dead_letters_and_valid_rows_are_all_kept():
    raw = raw_rows(
        [
            ["w", "301", "A", "2026-03-02T10:00:00Z", "3", "4.5", "1"],
            ["w", "301", "A", "not a time", "3", "4.5", "1"],
            ["w", "301", "B", "2026-03-02T10:02:00Z", "-1", "-1.5", ""],  # a return, mid-tick
            ["w", "301", "C", "2026-03-02T10:00:00Z", "nan", "1", "1"],
            ["w", "", "C", "2026-03-02T10:00:00Z", "1", "inf", "x"],
            ["w", "301", "D", "2026-03-02 10:00:00", "2", "3", "2"],
        ]
    )
    valid, errors = parse_sales_rows(raw, "landing/sales/w.csv", "run-1")
    assert len(valid) + len(errors) == len(raw)
    assert list(valid["source_line"]) == [1, 3, 6]
    assert list(valid["units"]) == [3.0, -1.0, 2.0]
    assert list(valid["ts"]) == [TICK_10] * 3
    assert list(valid["feed_version"]) == [1, 1, 2]
    assert list(errors["source_line"]) == [2, 4, 5]
    reasons = dict(zip(errors["source_line"], errors["error"]))
    assert reasons[2] == "ts is not a timestamp"
    assert reasons[4] == "units is not a finite number"
    assert reasons[5] == "store_id is blank; sales_value is not a finite number; feed_version is not an integer >= 1"
    assert json.loads(errors.iloc[0]["raw_payload"])["ts"] == "not a time"


def test_a_parquet_delivery_with_numbers_stored_as_numbers_parses_as_the_same_delivery_in_csv(tmp_path):
    delivery = pd.DataFrame({
        "retailer": ["n", "n", "n", "n", "n", "n"],
        "store_id": ["401", "401", "402", "402", "402", ""],
        "sku": ["A", "B", "A", "B", "C", "A"],
        "ts": ["2026-03-02 10:00:00", "2026-03-02 10:04:59", "2026-03-02 10:00", "bad", "2026-03-02 10:00:00",
               "2026-03-02 10:00:00"],
        "units": [3, -1, 2, 1, 5, 1],
        "sales_value": [4.5, -1.25, np.nan, 2.0, np.inf, 1.0],
        "feed_version": [1.0, np.nan, 2.0, 1.0, 1.5, 0.0],
    })
    delivery.to_parquet(tmp_path / "n.parquet", index=False)
    delivery.to_csv(tmp_path / "n.csv", index=False)
    stored = read_delivery(tmp_path / "n.parquet")
    assert pd.api.types.is_integer_dtype(stored["units"]) and stored["store_id"].dtype == TEXT_DTYPE

    valid, errors = parse_sales_rows(stored, "landing/sales/n.parquet", "run-1")
    from_csv, csv_errors = parse_sales_rows(read_delivery(tmp_path / "n.csv"), "landing/sales/n.parquet", "run-1")

    pd.testing.assert_frame_equal(valid, from_csv)
    assert list(valid["feed_version"]) == [1, 1]  # a missing feed_version is 1, as a blank one
    assert list(valid["ts"]) == [TICK_10, TICK_10]
    assert list(errors["error"]) == list(csv_errors["error"]) == [
        "sales_value is not a finite number", "ts is not a timestamp",
        "sales_value is not a finite number; feed_version is not an integer >= 1",
        "store_id is blank; feed_version is not an integer >= 1"]


def test_a_file_missing_a_required_column_is_dead_lettered_line_by_line():
    raw = pd.DataFrame({"retailer": ["w", "w"], "store_id": ["1", "1"], "sku": ["A", "B"], "ts": ["x", "y"], "units": ["1", "2"]})
    valid, errors = parse_sales_rows(raw, "landing/sales/w.csv", "run-1")
    assert valid.empty
    assert list(errors["source_line"]) == [1, 2]
    assert set(errors["error"]) == {"missing column(s): sales_value"}


def test_higher_feed_version_supersedes_and_a_resent_row_counts_once():
    first, _ = parse_sales_rows(
        raw_rows([["w", "301", "A", "2026-03-02T10:00:00Z", "6", "12", "1"],
                  ["w", "301", "B", "2026-03-02T10:00:00Z", "1", "2", "1"]]),
        "landing/sales/a.csv", "run-1",
    )
    resent, _ = parse_sales_rows(raw_rows([["w", "301", "B", "2026-03-02T10:00:00Z", "1", "2", "1"]]), "landing/sales/b.csv", "run-1")
    corrected, _ = parse_sales_rows(raw_rows([["w", "301", "A", "2026-03-02T10:00:00Z", "3", "6", "2"]]), "landing/sales/c.csv", "run-1")
    series = sales_timeseries(pd.concat([first, resent, corrected]))
    assert len(series) == 3  # B once, A in versions 1 and 2
    current = current_sales_series(series).set_index("sku")
    assert current.loc["A", "units"] == 3.0 and current.loc["A", "feed_version"] == 2
    assert current.loc["B", "units"] == 1.0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a.csv", "b.csv"]), st.sampled_from(["301", "302"]),
                          st.sampled_from(["A", "B"]), st.integers(0, 2), st.integers(1, 2),
                          st.sampled_from(["run-1", "run-2"])), max_size=16))
def test_the_series_keeps_the_last_landed_row_of_each_key_in_its_stored_order(cells):
    landed = pd.DataFrame({
        "retailer": pd.array(["w"] * len(cells), dtype=TEXT_DTYPE),
        "store_id": pd.array([c[1] for c in cells], dtype=TEXT_DTYPE),
        "sku": pd.array([c[2] for c in cells], dtype=TEXT_DTYPE),
        "ts": pd.to_datetime([c[3] * 300 for c in cells], unit="s", utc=True),
        "units": [float(i) for i in range(len(cells))],
        "sales_value": 1.0,
        "feed_version": [c[4] for c in cells],
        "source_file": pd.array([c[0] for c in cells], dtype=TEXT_DTYPE),
        "source_line": range(1, len(cells) + 1),
        "run_id": pd.array([c[5] for c in cells], dtype=TEXT_DTYPE),
    }).assign(written_at=lambda rows: rows["ts"]).sample(frac=1, random_state=0)
    key = ["store_id", "sku", "ts", "feed_version", "run_id"]
    in_landed_order = landed.sort_values(["source_file", "source_line"])
    expected = in_landed_order[~in_landed_order.duplicated(key, keep="last")]

    series = sales_timeseries(landed)

    assert sorted(series["units"]) == sorted(expected["units"])
    assert is_sorted(series, [*SALES_TIMESERIES_DATA.sort_by, "run_id"], strictly=True)
    assert list(series.columns) == SALES_TIMESERIES_DATA.columns


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["301", "302", "1000"]), st.sampled_from(["A", "B", "AA"]),
                          st.integers(0, 2), st.integers(1, 3)), max_size=16, unique=True))
def test_the_current_series_is_the_highest_feed_version_of_each_key_in_store_sku_tick_order(cells):
    series = pd.DataFrame({
        "store_id": pd.array([c[0] for c in cells], dtype=TEXT_DTYPE),
        "sku": pd.array([c[1] for c in cells], dtype=TEXT_DTYPE),
        "ts": pd.to_datetime([c[2] * 300 for c in cells], unit="s", utc=True),
        "feed_version": pd.array([c[3] for c in cells], dtype="int64"),
        "units": [float(i) for i in range(len(cells))],
    })
    ordered = series.sort_values(["store_id", "sku", "ts", "feed_version"])
    expected = ordered[~ordered.duplicated(["store_id", "sku", "ts"], keep="last")].reset_index(drop=True)

    pd.testing.assert_frame_equal(current_sales_series(series), expected)


def test_the_daily_summary_spans_and_sums_each_store_sku_day_and_feed_version():
    day = pd.Timestamp("2026-03-09", tz="UTC")
    at = [day + pd.Timedelta(t) for t in ("10:00:00", "10:05:00", "10:10:00", "1 days 09:00:00")]
    series = pd.DataFrame({"store_id": "301", "sku": "SKU0001", "ts": at, "feed_version": [1, 1, 2, 1],
                           "sales_value": [1.0, 2.0, 4.0, 8.0], "units": 1.0})
    summary = daily_summary(series)
    columns = ["day", "feed_version", "first_ts", "last_ts", "sales_value"]
    assert (summary[["store_id", "sku"]] == ["301", "SKU0001"]).all().all()
    assert summary[columns].to_dict("records") == [
        {"day": day, "feed_version": 1, "first_ts": at[0], "last_ts": at[1], "sales_value": 3.0},
        {"day": day, "feed_version": 2, "first_ts": at[2], "last_ts": at[2], "sales_value": 4.0},
        {"day": day + pd.Timedelta(days=1), "feed_version": 1, "first_ts": at[3], "last_ts": at[3], "sales_value": 8.0},
    ]
