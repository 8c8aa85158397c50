"""Data versions: which rows of a log are current after a retailer resends corrected data.

A delivery with a higher `feed_version` supersedes earlier rows (seed 001 §12). Everything MRS
computes for a store at tick t depends on the store's sales up to t (the baseline learns from the
days before), so the store's *data version* at t is the highest feed_version among its rows at or
before t. Every per-tick row of a log carries the data version it was computed from in `version`;
a row is current when its version equals the store's data version at its `written_at`, and
superseded when the data has since been corrected. Superseded rows stay in the logs (the audit
trail); readers take the current ones.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def feed_versions(series: pd.DataFrame) -> pd.DataFrame:
    """Per store and feed_version of a current series (columns store_id, ts, feed_version): the
    first and last tick that version's rows cover (`effective_from`, `effective_to`)."""
    spans = series.groupby(["store_id", "feed_version"], sort=True)["ts"].agg(["min", "max"]).reset_index()
    return spans.rename(columns={"feed_version": "version", "min": "effective_from", "max": "effective_to"})


def corrected_spans(versions: pd.DataFrame) -> pd.DataFrame:
    """The spans of corrected resends (feed_version > 1)."""
    return versions[versions["version"] > 1]


def version_at(frame: pd.DataFrame, versions: pd.DataFrame, ts_column: str = "written_at") -> np.ndarray:
    """The store's data version at each row's `ts_column` (1 before any delivery)."""
    if frame.empty:
        return np.zeros(0, dtype=np.int64)
    left = pd.DataFrame({"store_id": frame["store_id"].to_numpy(), "t": frame[ts_column].to_numpy()})
    left["_row"] = np.arange(len(left))
    steps = versions.sort_values("effective_from")
    steps = steps.assign(version=steps.groupby("store_id")["version"].cummax())
    right = steps.rename(columns={"effective_from": "t"})[["store_id", "t", "version"]].astype({"t": left["t"].dtype})
    joined = pd.merge_asof(left.sort_values("t"), right, on="t", by="store_id")
    return joined.sort_values("_row")["version"].fillna(1).to_numpy(dtype=np.int64)


def current_rows(log: pd.DataFrame, versions: pd.DataFrame) -> pd.DataFrame:
    """The rows of `log` computed from the current data of their store at their `written_at`."""
    if log.empty or versions.empty:
        return log
    return log[log["version"].to_numpy() == version_at(log, versions)]


def resend_scope(rows: pd.DataFrame) -> tuple[list[str], pd.Timestamp] | None:
    """The stores and first tick a delivery's superseding rows (feed_version > 1) cover, or None
    when it supersedes nothing."""
    resent = rows[rows["feed_version"] > 1]
    if resent.empty:
        return None
    return sorted(resent["store_id"].unique()), resent["ts"].min()
