"""Frame helpers for logs of tens of millions of rows."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mrs_dagster.contracts import TEXT_DTYPE


def concat_rows(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The rows of `frames` in one frame (a new index); the first frame when none has rows. Frames
    without rows are left out: pandas is deprecating their say in the result's dtypes, which would
    turn text read from the lake (TEXT_DTYPE) into Python objects when an empty frame joins it."""
    full = [frame for frame in frames if not frame.empty]
    return pd.concat(full, ignore_index=True) if full else frames[0]


Part = TypeVar("Part")


def in_batches(parts: Iterable[Part], rows: int, size: Callable[[Part], int] = len) -> Iterator[list[Part]]:
    """Consecutive `parts` grouped until a group holds at least `rows` rows (`size` of each part;
    the last group may hold fewer): how a log is gone over in parts small enough to hold, in few
    enough commits (each Iceberg commit costs ~0.1 s, and more as a table's snapshots add up)."""
    group, held = [], 0
    for part in parts:
        group.append(part)
        held += size(part)
        if held >= rows:
            yield group
            group, held = [], 0
    if group:
        yield group


def replaced_from(previous: pd.DataFrame, recomputed: pd.DataFrame, column: str, start: pd.Timestamp) -> pd.DataFrame:
    """`previous` rows with `column` before `start`, then `recomputed` (the rows from `start` on, made
    again): how a view of whole days is brought up to date by a run scoped from `start`'s day."""
    return concat_rows([previous[previous[column] < start], recomputed])


def set_columns(frame: pd.DataFrame, **columns) -> pd.DataFrame:
    """`frame` with `columns` set in place, for a frame the caller has just made: `assign` copies
    every row first, which on a log of millions of rows is a second copy at the step's peak. A
    text value fills its column as Arrow-backed text (`repeated_text`)."""
    for name, values in columns.items():
        frame[name] = repeated_text(values, len(frame)) if isinstance(values, str) else values
    return frame


def repeated_text(value: str, rows: int) -> pd.api.extensions.ExtensionArray:
    """`value` in each of `rows` rows, as Arrow-backed text (`TEXT_DTYPE`, what the lake reads):
    a column of Python strings costs a Python call per cell when it is hashed for the key's
    dedup, validated and converted to Arrow on write (6.7 s for the text columns of a model log)."""
    return TEXT_DTYPE.__from_arrow__(pa.repeat(pa.scalar(value, pa.large_string()), rows))


def labelled_text(labels, codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """`labels[codes]` as Arrow-backed text (`TEXT_DTYPE`), missing where a code is -1."""
    taken = pa.array(np.asarray(labels, dtype=object), pa.large_string()).take(pa.array(codes, mask=codes < 0))
    return TEXT_DTYPE.__from_arrow__(taken)


def without(rows: pd.DataFrame, drop: np.ndarray) -> pd.DataFrame:
    """`rows` but those flagged in `drop`; `rows` itself when none is, as filtering copies every
    row (each text cell a Python object) even when it keeps them all."""
    return rows[~drop] if drop.any() else rows


def text_positions(values: pd.Series, labels) -> np.ndarray:
    """The position in `labels` of each of the text `values`, -1 where absent or missing. By Arrow's
    hash lookup: `Index.get_indexer` makes a Python object of every Arrow text cell first (5 million
    store ids: 1.37 s, against 0.09 s here)."""
    text = pa.large_string()  # as the lake's text reads; an empty or all-missing column reads as nulls
    found = pc.index_in(pa.array(values).cast(text), value_set=pa.array(np.asarray(labels, dtype=object), text))
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def sorted_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The distinct text `values`, sorted, and each value's position among them (by Arrow's hash),
    so that comparing positions orders the text without comparing a string."""
    text = pa.array(values)
    encoded = (text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text).dictionary_encode()
    labels = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
    rank = np.argsort(labels)
    return labels[rank], np.argsort(rank)[encoded.indices.to_numpy(zero_copy_only=False)]


def rows_among(frame: pd.DataFrame, keys: pd.DataFrame) -> pd.DataFrame:
    """The rows of `frame` whose values in the columns of `keys` are those of some row of `keys`:
    a semi-join on integer codes, to narrow a log of millions of rows before a merge with a few
    of them (pandas' merge hashes every text key cell of both sides). A missing value matches
    nothing. Each column's codes are folded into those of the key rows seen so far, so they never
    overflow."""
    keys = keys.dropna()
    frame_codes, key_codes = np.zeros(len(frame), np.int64), np.zeros(len(keys), np.int64)
    for column in keys.columns:
        labels = keys[column].unique()
        at_frame, at_keys = (_positions(values, labels) for values in (frame[column], keys[column]))
        frame_codes, key_codes = frame_codes * len(labels) + at_frame, key_codes * len(labels) + at_keys
        seen = pd.Index(np.unique(key_codes))
        frame_codes = np.where(at_frame < 0, -1, seen.get_indexer(frame_codes))
        key_codes = seen.get_indexer(key_codes)
    return without(frame, frame_codes < 0)


def _positions(values: pd.Series, labels) -> np.ndarray:
    if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
        return text_positions(values, labels)
    return pd.Index(labels).get_indexer(values)
