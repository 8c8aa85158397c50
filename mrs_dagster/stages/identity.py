"""Stable ids: the same inputs give the same id in every run, on every machine."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd


def stable_id(*parts) -> str:
    """hash(part1 || part2 || ...) as 16 hex digits; timestamps hash by their UTC ISO form."""
    text = "||".join(p.isoformat() if isinstance(p, pd.Timestamp) else str(p) for p in parts)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def stable_ids(*columns: pd.Series | np.ndarray) -> np.ndarray:
    """`stable_id` of each row of equally long `columns`. A log repeats the same parts on many rows
    (a cluster's anchor on every tick of its reports), so each distinct row is hashed once."""
    parts = pd.DataFrame({i: pd.Series(column).reset_index(drop=True) for i, column in enumerate(columns)})
    group = parts.groupby(list(parts.columns), sort=False, dropna=False).ngroup().to_numpy()
    first_rows = pd.Series(np.arange(len(parts))).groupby(group).first().to_numpy()
    ids = np.array([stable_id(*row) for row in parts.iloc[first_rows].itertuples(index=False)], dtype=object)
    return ids[group]
