"""Frame helpers for logs of tens of millions of rows."""

from __future__ import annotations

import numpy as np
import pandas as pd


def without(rows: pd.DataFrame, drop: np.ndarray) -> pd.DataFrame:
    """`rows` but those flagged in `drop`; `rows` itself when none is, as filtering copies every
    row (each text cell a Python object) even when it keeps them all."""
    return rows[~drop] if drop.any() else rows
