"""Row validation shared by the stages that take outside data (landing files, reference files)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def row_errors(problems: dict[str, pd.Series], index: pd.Index) -> pd.Series:
    """Per row, every problem it has, joined with '; ' ('' for a valid row)."""
    reasons = pd.Series("", index=index)
    for reason, bad in problems.items():
        reasons = reasons.where(~bad.to_numpy(), reasons + np.where(reasons.eq(""), "", "; ") + reason)
    return reasons
