"""Rows and their order: a frame of millions of rows already sorted need not be sorted again, one
whose order shows its rows distinct in part of a key cannot repeat the key, and rows in a few runs
of an order sort in near-linear time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# Runs of rows in order that `distinct_by_order` compares: a log read back comes in a run per data
# file (a few per commit), so more runs than this mean rows out of order, not files.
MAX_RUNS = 1_000


def is_sorted(frame: pd.DataFrame, columns: list[str], *, strictly: bool = False) -> bool:
    """Whether `frame`'s rows are in ascending order of `columns` (ties broken by the next column)
    with no missing value in them; `strictly`: and no two rows equal in all of them. A sort copies
    every row even of a frame already in order."""
    ascends = _ascends(frame, columns, strictly=strictly)
    return ascends is not None and bool(ascends.all())


def distinct_by_order(frame: pd.DataFrame, columns: list[str]) -> bool:
    """Whether `frame`'s rows are shown distinct in `columns` (none missing) by their order alone: they
    fall into runs each strictly ascending (a run ends where the next row does not come after it),
    and no two runs' spans overlap, as a log read back from data files each written in order does
    (a scan lists the latest commit's files first, so the rows are in order per file, not overall).
    False when their order does not show it (spans that overlap, more than MAX_RUNS runs), which
    does not mean that two rows are equal."""
    ascends = _ascends(frame, columns, strictly=True)
    if ascends is None:
        return False
    starts = np.flatnonzero(~ascends) + 1
    if not len(starts) or len(starts) > MAX_RUNS:
        return not len(starts)
    firsts, lasts = np.append(0, starts), np.append(starts - 1, len(frame) - 1)
    run_order = frame.iloc[firsts][columns].reset_index(drop=True).sort_values(columns, kind="stable").index
    bounds = np.stack([firsts[run_order], lasts[run_order]], axis=1).ravel()
    bounds = bounds[np.append(True, bounds[1:] != bounds[:-1])]  # a run of one row has one bound
    return is_sorted(frame.iloc[bounds], columns, strictly=True)


def _ascends(frame: pd.DataFrame, columns: list[str], *, strictly: bool) -> np.ndarray | None:
    """For each row but the last, whether the next comes after it in `columns` (or equals it, when
    not `strictly`); None when a value of them is missing."""
    ascends = np.full(max(len(frame) - 1, 0), not strictly)
    for column in reversed(columns):
        values = pa.array(frame[column])
        if values.null_count:
            return None
        if len(values) < 2:
            continue
        before, after = values[:-1], values[1:]
        less = pc.less(before, after).to_numpy(zero_copy_only=False)
        ascends = less | (pc.equal(before, after).to_numpy(zero_copy_only=False) & ascends)
    return ascends


def repeated_rows(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Which rows repeat the values in `columns` of an earlier row, as pandas' `duplicated` (the
    first kept; a missing value equals another): by one stable sort of each row's codes folded into
    one integer, the columns' codes in the order given. Rows in a few runs each in that order (a
    log read back, its sort columns first) sort in near-linear time: 0.6 s for 8.9 million series
    keys, where pandas' hashing of each column and then of the rows took 1.5 s."""
    key, span = np.zeros(len(frame), dtype=np.int64), 1
    for column in columns:
        codes, values = pd.factorize(frame[column], sort=True, use_na_sentinel=False)
        if span * len(values) >= 2**62:  # folded so far into codes as few as the distinct rows
            key, distinct = pd.factorize(key, sort=True)
            span = len(distinct)
        key, span = key * len(values) + codes, span * len(values)
    order = np.argsort(key, kind="stable")
    in_order = key[order]
    repeated = np.zeros(len(frame), dtype=bool)
    repeated[order[1:]] = in_order[1:] == in_order[:-1]
    return repeated
