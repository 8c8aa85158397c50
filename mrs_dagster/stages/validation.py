"""Row validation shared by the stages that take outside data (landing files, reference files)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def row_errors(problems: dict[str, pd.Series], index: pd.Index) -> pd.Series:
    """Per row, every problem it has, in the order of `problems`, joined with '; ' ('' for a valid
    row). Only the rows with a problem are touched: a landing file's text is built per bad row, not
    for every row of the file (about 0.3 s a file of 234,000 valid rows)."""
    reasons = np.full(len(index), "", dtype=object)
    for reason, bad in problems.items():
        bad = np.asarray(bad, dtype=bool)
        if bad.any():
            so_far = reasons[bad]
            reasons[bad] = np.where(so_far == "", reason, so_far + "; " + reason)
    return pd.Series(reasons, index=index)
