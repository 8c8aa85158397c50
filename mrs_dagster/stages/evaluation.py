"""Event-level scoring of minority events against a generated world's truth.

A truth anomaly is found when an event at the same store overlaps its window, both widened by
`widen` on each side. Recall counts found truth anomalies; precision counts events that overlap
any truth anomaly. Per cause, precision and F1 need an event cause: they count the events whose
`proposed_cause` is that cause and that overlap a truth anomaly of it (NaN when events carry no
cause).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrs_dagster.contracts import CAUSES
from mrs_dagster.stages.timestamps import TICK


def overlaps(events: pd.DataFrame, truth: pd.DataFrame, widen: pd.Timedelta) -> pd.DataFrame:
    """Pairs (event index, truth index) at the same store whose widened windows overlap."""
    e = events.assign(_e=events.index, _lo=events["window_start"] - widen, _hi=events["window_end"] + TICK + widen)
    t = truth.assign(_t=truth.index, _lo_t=truth["start"] - widen, _hi_t=truth["end"] + widen)
    pairs = e[["_e", "store_id", "_lo", "_hi"]].merge(t[["_t", "store_id", "_lo_t", "_hi_t"]], on="store_id")
    hit = (pairs["_lo"] < pairs["_hi_t"]) & (pairs["_lo_t"] < pairs["_hi"])
    return pairs.loc[hit, ["_e", "_t"]]


def evaluate_events(events: pd.DataFrame, truth: pd.DataFrame, widen: pd.Timedelta = pd.Timedelta(minutes=30)) -> pd.DataFrame:
    """One row per cause plus 'overall': truth, found, recall, events, precision, f1, and, when
    the events carry a `proposed_cause`, cause_accuracy: the share of found truth anomalies that an
    overlapping event attributes to the true cause."""
    events = events.reset_index(drop=True)
    truth = truth.reset_index(drop=True)
    pairs = overlaps(events, truth, widen)
    found = truth.index.isin(pairs["_t"])
    attributed = "proposed_cause" in events
    if attributed:
        true_cause = truth.loc[pairs["_t"], "cause"].to_numpy()
        right = pairs[events.loc[pairs["_e"], "proposed_cause"].to_numpy() == true_cause]
        correctly_attributed = truth.index.isin(right["_t"])
    rows = [_row("overall", found, pd.Series(True, index=truth.index), events.index.isin(pairs["_e"]).sum(), len(events))]
    for cause in CAUSES:
        of_cause = truth["cause"].eq(cause)
        n_events = n_correct = None
        if attributed:
            claimed = events["proposed_cause"].eq(cause).to_numpy()
            n_events, n_correct = int(claimed.sum()), int((claimed & events.index.isin(right["_e"])).sum())
        rows.append(_row(cause, found, of_cause, n_correct, n_events))
    result = pd.DataFrame(rows)
    if attributed:
        result["cause_accuracy"] = [_share(correctly_attributed, found & mask) for mask in
                                    [pd.Series(True, index=truth.index)] + [truth["cause"].eq(c) for c in CAUSES]]
    return result


def _share(hits: np.ndarray, within: pd.Series) -> float:
    return float(hits[within.to_numpy()].mean()) if within.any() else np.nan


def _row(name: str, found: np.ndarray, of_cause: pd.Series, n_correct: int | None, n_events: int | None) -> dict:
    n_truth = int(of_cause.sum())
    n_found = int(found[of_cause.to_numpy()].sum())
    recall = n_found / n_truth if n_truth else np.nan
    precision = n_correct / n_events if n_events else np.nan
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else np.nan
    return {"cause": name, "truth": n_truth, "found": n_found, "recall": recall,
            "events": n_events if n_events is not None else np.nan, "precision": precision, "f1": f1}
