"""Whether rows are already in an order: a frame of millions of rows already sorted need not be
sorted again, and one strictly sorted on part of a key cannot repeat the key."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def is_sorted(frame: pd.DataFrame, columns: list[str], *, strictly: bool = False) -> bool:
    """Whether `frame`'s rows are in ascending order of `columns` (ties broken by the next column)
    with no missing value in them; `strictly`: and no two rows equal in all of them. A sort copies
    every row even of a frame already in order."""
    tied = np.ones(max(len(frame) - 1, 0), dtype=bool)
    for column in columns:
        values = pa.array(frame[column])
        if values.null_count:
            return False
        if len(values) < 2:
            continue
        before, after = values[:-1], values[1:]
        if not pc.all(pc.or_(pc.invert(pa.array(tied)), pc.less_equal(before, after)), min_count=0).as_py():
            return False
        tied &= pc.equal(before, after).to_numpy(zero_copy_only=False)
    return not (strictly and tied.any())
