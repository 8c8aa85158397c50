"""Ingest: landed rows parsed tolerantly; what cannot be parsed becomes a dead letter, never lost."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow
import pyarrow.compute as pc

from mrs_dagster.contracts import LANDING_COLUMNS, SALES_TIMESERIES_DATA, TEXT_DTYPE, UNIFIED_SALES_DATA, UNIFIED_SALES_DATA_ERRORS
from mrs_dagster.stages.frames import labelled_text, repeated_text, sorted_codes, without
from mrs_dagster.stages.timestamps import TICK, parse_timestamps
from mrs_dagster.stages.validation import row_errors


def parse_sales_rows(raw: pd.DataFrame, source_file: str, run_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split one landing file's rows (`raw`: the file's columns as read, in line order) into
    `unified_sales_data` rows and `unified_sales_data_errors` dead letters.

    `ts` is floored to the start of its 5-minute tick; a blank `feed_version` means 1.
    """
    raw = raw.reset_index(drop=True)
    lines = np.arange(1, len(raw) + 1)
    missing = [c for c in LANDING_COLUMNS if c not in raw.columns]
    if missing:
        reasons = pd.Series(f"missing column(s): {', '.join(missing)}", index=raw.index)
        return UNIFIED_SALES_DATA.empty(), _dead_letters(raw, reasons, source_file, lines, run_id)

    text = {c: raw[c].astype(TEXT_DTYPE).str.strip() for c in ("retailer", "store_id", "sku")}
    ts = parse_timestamps(raw["ts"])
    units = _numbers(raw["units"])
    sales_value = _numbers(raw["sales_value"])
    if "feed_version" in raw.columns:
        feed_version = _numbers(raw["feed_version"]).mask(_blank(raw["feed_version"]), 1)
    else:
        feed_version = pd.Series(1.0, index=raw.index)

    problems = {
        "retailer is blank": text["retailer"].fillna("").eq(""),
        "store_id is blank": text["store_id"].fillna("").eq(""),
        "sku is blank": text["sku"].fillna("").eq(""),
        "ts is not a timestamp": ts.isna(),
        "units is not a finite number": ~np.isfinite(units.astype(float)).fillna(False),
        "sales_value is not a finite number": ~np.isfinite(sales_value.astype(float)).fillna(False),
        "feed_version is not an integer >= 1": ~(feed_version.ge(1) & feed_version.mod(1).eq(0)).fillna(False),
    }
    reasons = row_errors(problems, raw.index)
    ok = ~np.logical_or.reduce([np.asarray(bad, dtype=bool) for bad in problems.values()])

    # Made whole once and filtered only when a row is bad: each copy of a delivery's rows (a
    # filter, an `assign`) cost about 0.02 s, over a second a run of 42 deliveries.
    tick = ts.dt.floor(TICK)
    valid = without(pd.DataFrame(
        {
            "retailer": text["retailer"],
            "store_id": text["store_id"],
            "sku": text["sku"],
            "ts": tick,
            "units": units,
            "sales_value": sales_value,
            "feed_version": np.where(ok, feed_version.to_numpy(), 1).astype("int64"),
            "source_file": repeated_text(source_file, len(raw)),
            "source_line": lines,
            "written_at": tick,
            "run_id": repeated_text(run_id, len(raw)),
        }
    ), ~ok)
    return valid, _dead_letters(raw[~ok], reasons[~ok], source_file, lines[~ok], run_id)


def _numbers(cells: pd.Series) -> pd.Series:
    """A delivery's column as float64, what is not a number as NaN: a column stored as numbers (a
    Parquet delivery's) as it is, text stripped. Text all of numbers, as a good delivery's is, is
    cast in Arrow (0.01 s against `pd.to_numeric`'s 0.15 s for 234,000 cells); any other goes cell
    by cell through pandas."""
    if _stored_as_numbers(cells):
        return cells.astype(float)
    text = cells.astype(TEXT_DTYPE).str.strip()
    try:
        numbers = pc.cast(pyarrow.array(text.array), pyarrow.float64()).to_numpy(zero_copy_only=False)
    except pyarrow.ArrowInvalid:
        numbers = pd.to_numeric(text, errors="coerce").astype(float).to_numpy()
    return pd.Series(numbers, index=text.index)


def _blank(cells: pd.Series) -> pd.Series:
    """Whether each cell of a delivery's column is missing or blank text."""
    if _stored_as_numbers(cells):
        return cells.isna()
    return cells.astype(TEXT_DTYPE).str.strip().fillna("").eq("")


def _stored_as_numbers(cells: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(cells) and not pd.api.types.is_bool_dtype(cells)


def unreadable_file(source_file: str, error: str, run_id: str) -> pd.DataFrame:
    """The dead letter for a landing file that could not be read at all."""
    return pd.DataFrame(
        {"source_file": [source_file], "source_line": [0], "raw_payload": [""], "error": [error], "run_id": [run_id]}
    )


def dead_letter_rows(invalid: pd.DataFrame, source_file: str, run_id: str) -> pd.DataFrame:
    """Dead letters (source_file, source_line, raw_payload, error) for the rows of a file read in
    line order (index 0 = line 1) with their `error`."""
    return _dead_letters(invalid.drop(columns="error"), invalid["error"], source_file, invalid.index + 1, run_id)


def _dead_letters(raw: pd.DataFrame, reasons: pd.Series, source_file: str, lines, run_id: str) -> pd.DataFrame:
    payloads = [json.dumps({k: _jsonable(v) for k, v in row.items()}) for row in raw.to_dict("records")]
    return UNIFIED_SALES_DATA_ERRORS.schema.validate(
        pd.DataFrame(
            {
                "source_file": source_file,
                "source_line": np.asarray(lines, dtype="int64"),
                "raw_payload": payloads,
                "error": reasons.to_numpy(),
                "run_id": run_id,
            },
            columns=UNIFIED_SALES_DATA_ERRORS.columns,
        )
    )


def _jsonable(value):
    if value is None or value is pd.NA:
        return None
    return value if isinstance(value, str) else str(value)


def sales_timeseries(unified: pd.DataFrame) -> pd.DataFrame:
    """One row per (store_id, sku, ts, feed_version): within a feed_version the last landed line
    wins (landing files in name order), so a row sent twice is not counted twice. The rows come in
    the series' stored order (its `sort_by`, then run_id), so its write neither sorts nor dedups
    them again; they are ordered on integer codes, by one sort on the key and then the landed order
    (source_file, source_line), so a key's last row is the one kept. Sorting on the landed order
    first and then on the key took twice the time: reordering every column of ten million rows."""
    key = (*SALES_TIMESERIES_DATA.sort_by, "run_id")
    codes = [_order_codes(unified[column]) for column in (*key, "source_file", "source_line")]
    kept = _last_of_each_key(codes, len(key))
    return pd.DataFrame({column: unified[column].array.take(kept) for column in SALES_TIMESERIES_DATA.columns})


def _last_of_each_key(codes: list[np.ndarray], key_length: int) -> np.ndarray:
    """The positions of the rows ordered by `codes` (integer columns, the first one first), keeping
    the last row of each key (its first `key_length` columns)."""
    order = np.lexsort(codes[::-1])
    in_order = [column[order] for column in codes[:key_length]]
    last = np.ones(len(order), dtype=bool)
    last[:-1] = ~np.logical_and.reduce([column[1:] == column[:-1] for column in in_order])
    return order[last]


def _order_codes(values: pd.Series) -> np.ndarray:
    """Integers in the order of `values`: text by its sorted codes, times as nanoseconds."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return pd.DatetimeIndex(values).asi8
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy()
    return sorted_codes(values)[1]


# What the stages use of the series: its keys and values, not who sent a row or when it was written.
SERIES_COLUMNS = ("store_id", "sku", "ts", "feed_version", "units", "sales_value")


def current_sales_series(timeseries: pd.DataFrame) -> pd.DataFrame:
    """The current series: the highest feed_version per (store_id, sku, ts), in that order (a fresh
    index). Ordered on integer codes, a store and SKU as one: 2.0 s for 8.9 million rows against
    3.8 s for pandas' sort on the text."""
    stores, store_codes = sorted_codes(timeseries["store_id"])
    skus, sku_codes = sorted_codes(timeseries["sku"])
    series = store_codes.astype(np.int64) * len(skus) + sku_codes
    kept = _last_of_each_key([series, _order_codes(timeseries["ts"]), _order_codes(timeseries["feed_version"])], 2)
    text = {"store_id": labelled_text(stores, store_codes[kept]), "sku": labelled_text(skus, sku_codes[kept])}
    return pd.DataFrame({column: text[column] if column in text else timeseries[column].array.take(kept)
                         for column in timeseries.columns})


def daily_summary(series: pd.DataFrame) -> pd.DataFrame:
    """Per store_id, sku, UTC day and feed_version of a current series (`current_sales_series`): the
    first and last tick (`first_ts`, `last_ts`) and the summed `sales_value`. A day's rows depend
    on that day's series alone, so a scoped run recomputes only the days from its first tick's."""
    keys = [series["store_id"], series["sku"], series["ts"].dt.floor("D").rename("day"), series["feed_version"]]
    summary = series.groupby(keys, sort=True, observed=True).agg(
        first_ts=("ts", "min"), last_ts=("ts", "max"), sales_value=("sales_value", "sum"))
    return summary.reset_index()
