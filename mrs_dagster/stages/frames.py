"""Frame helpers for logs of tens of millions of rows."""

from __future__ import annotations

import numpy as np
import pandas as pd


def concat_rows(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The rows of `frames` in one frame (a new index); the first frame when none has rows. Frames
    without rows are left out: pandas is deprecating their say in the result's dtypes, which would
    turn text read from the lake (TEXT_DTYPE) into Python objects when an empty frame joins it."""
    full = [frame for frame in frames if not frame.empty]
    return pd.concat(full, ignore_index=True) if full else frames[0]


def without(rows: pd.DataFrame, drop: np.ndarray) -> pd.DataFrame:
    """`rows` but those flagged in `drop`; `rows` itself when none is, as filtering copies every
    row (each text cell a Python object) even when it keeps them all."""
    return rows[~drop] if drop.any() else rows
