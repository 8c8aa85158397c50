"""Event-level scoring of minority events against a generated world's truth.

A truth anomaly is found when an event at the same store overlaps its window, both widened by
`widen` on each side. Recall counts found truth anomalies; precision counts events that overlap
any truth anomaly. Per cause, recall is exact; precision and F1 per cause need an event cause,
so they are computed over events by their `proposed_cause` when the events carry one, and are
not defined (NaN) before attribution exists.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrs_dagster.contracts import CAUSES
from mrs_dagster.stages.timestamps import TICK


def latest_events(event_log: pd.DataFrame) -> pd.DataFrame:
    """The latest row per event of a minority_event_log."""
    return event_log.sort_values("written_at", kind="stable").drop_duplicates("event_id", keep="last")


def overlaps(events: pd.DataFrame, truth: pd.DataFrame, widen: pd.Timedelta) -> pd.DataFrame:
    """Pairs (event index, truth index) at the same store whose widened windows overlap."""
    e = events.assign(_e=events.index, _lo=events["window_start"] - widen, _hi=events["window_end"] + TICK + widen)
    t = truth.assign(_t=truth.index, _lo_t=truth["start"] - widen, _hi_t=truth["end"] + widen)
    pairs = e[["_e", "store_id", "_lo", "_hi"]].merge(t[["_t", "store_id", "_lo_t", "_hi_t"]], on="store_id")
    hit = (pairs["_lo"] < pairs["_hi_t"]) & (pairs["_lo_t"] < pairs["_hi"])
    return pairs.loc[hit, ["_e", "_t"]]


def evaluate_events(events: pd.DataFrame, truth: pd.DataFrame, widen: pd.Timedelta = pd.Timedelta(minutes=30)) -> pd.DataFrame:
    """One row per cause plus 'overall': truth, found, recall, events, precision, f1."""
    events = events.reset_index(drop=True)
    truth = truth.reset_index(drop=True)
    pairs = overlaps(events, truth, widen)
    found = truth.index.isin(pairs["_t"])
    matched_events = events.index.isin(pairs["_e"])
    rows = [_row("overall", len(truth), int(found.sum()), len(events), int(matched_events.sum()))]
    for cause in CAUSES:
        of_cause = (truth["cause"] == cause).to_numpy()
        if "proposed_cause" in events:
            claimed = (events["proposed_cause"] == cause).to_numpy()
            true_claims = pairs[truth.loc[pairs["_t"], "cause"].to_numpy() == cause]["_e"]
            n_events, n_correct = int(claimed.sum()), int((claimed & events.index.isin(true_claims)).sum())
        else:
            n_events, n_correct = None, None
        rows.append(_row(cause, int(of_cause.sum()), int((found & of_cause).sum()), n_events, n_correct))
    return pd.DataFrame(rows)


def _row(name: str, n_truth: int, n_found: int, n_events: int | None, n_correct: int | None) -> dict:
    recall = n_found / n_truth if n_truth else np.nan
    precision = n_correct / n_events if n_events else np.nan
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else np.nan
    return {"cause": name, "truth": n_truth, "found": n_found, "recall": recall,
            "events": n_events if n_events is not None else np.nan, "precision": precision, "f1": f1}
