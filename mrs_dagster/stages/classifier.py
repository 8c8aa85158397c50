"""The anomaly classifier: a Poisson test of observed against expected units over trailing windows.

Most series sell a few units per tick, so a z-score on raw counts is wrong; the surprise of a
window is -log10 of the Poisson tail probability of its observed total given its expected total.
A tick is flagged when some trailing window ending at it is surprising beyond `threshold`, moves by
at least `spike_ratio` (or down to `drop_ratio`) and `min_excess` units, and the last few ticks
still move the same way (so a flag does not outlive its anomaly by a whole window).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import pdtr, pdtrc

from mrs_dagster.contracts import ANOMALY_CLASSIFIER_MODEL_PREDICTION_LOG, DIRECTIONS
from mrs_dagster.stages.series_grid import StoreRows, long_rows, store_grids
from mrs_dagster.stages.versions import model_log_rows, model_version

MODEL_VERSION = "poisson-multiwindow-v1"
SPIKE, DROP = 1, -1
_MAX_SURPRISE = 300.0
_CONFIRM_TICKS = 3


@dataclass(frozen=True)
class ScoringParams:
    windows: tuple[int, ...] = (3, 12, 36)
    threshold: float = 7.0
    spike_ratio: float = 1.5
    drop_ratio: float = 0.35
    min_excess: float = 3.0
    min_expected_per_tick: float = 0.05


@dataclass(frozen=True)
class Scores:
    score: np.ndarray  # (K, J) surprise of the best window, 0 where nothing moved
    direction: np.ndarray  # (K, J) SPIKE, DROP or 0
    window_ticks: np.ndarray  # (K, J) length of the best window, 0 where none
    severity: np.ndarray  # (K, J) in [0, 1]: |log2 ratio| of the best window / 3
    flag: np.ndarray  # (K, J) bool
    scored: np.ndarray  # (K, J) bool: an expectation existed


def _trailing(values: np.ndarray, w: int, day: np.ndarray) -> np.ndarray:
    """Sum over the last `w` ticks ending at each tick; NaN where those ticks are not all on the
    tick's own day (a window never reaches back across a night the store was closed)."""
    csum = np.concatenate([np.zeros((values.shape[0], 1)), np.cumsum(values, axis=1)], axis=1)
    out = np.full(values.shape, np.nan)
    out[:, w - 1 :] = csum[:, w:] - csum[:, :-w]
    out[:, w - 1 :][:, day[w - 1 :] != day[: len(day) - w + 1]] = np.nan
    return out


def direction_codes(direction: np.ndarray) -> np.ndarray:
    """SPIKE, DROP or 0 as positions in the contract's DIRECTIONS (-1: none)."""
    return np.select([direction == SPIKE, direction == DROP], [DIRECTIONS.index("spike"), DIRECTIONS.index("drop")], -1)


def score_windows(units: np.ndarray, expected: np.ndarray, day: np.ndarray, params: ScoringParams) -> Scores:
    """Score every (series, tick) cell of one store; `day` labels each tick's day."""
    scored = ~np.isnan(expected)
    observed = np.floor(np.maximum(units, 0.0))
    expected0 = np.where(scored, expected, 0.0)
    best = np.zeros(units.shape)
    direction = np.zeros(units.shape, dtype=np.int8)
    window = np.zeros(units.shape, dtype=np.int64)
    severity = np.zeros(units.shape)
    for w in params.windows:
        if w > units.shape[1]:
            continue
        o = _trailing(observed, w, day)
        complete = _trailing(scored.astype(float), w, day) == w
        e = np.maximum(_trailing(expected0, w, day), params.min_expected_per_tick * w)
        with np.errstate(invalid="ignore"):
            spike = complete & (o >= params.spike_ratio * e) & (o - e >= params.min_excess)
            drop = complete & (o <= params.drop_ratio * e) & (e - o >= params.min_excess)
        # Tail probabilities only where the window moved enough: most cells never need one.
        surprise = np.zeros(units.shape)
        for moved, tail in ((spike, lambda o_, e_: pdtrc(o_ - 1, e_)), (drop, pdtr)):
            surprise[moved] = np.minimum(-np.log10(np.maximum(tail(o[moved], e[moved]), 1e-300)), _MAX_SURPRISE)
        better = (spike | drop) & (surprise > best)
        best = np.where(better, surprise, best)
        direction = np.where(better, np.where(spike, SPIKE, DROP), direction).astype(np.int8)
        window = np.where(better, w, window)
        with np.errstate(invalid="ignore", divide="ignore"):
            magnitude = np.minimum(np.abs(np.log2((o + 1) / (e + 1))) / 3, 1.0)
        severity = np.where(better, magnitude, severity)
    recent = _trailing(observed, _CONFIRM_TICKS, day) - _trailing(expected0, _CONFIRM_TICKS, day)
    confirmed = ((direction == SPIKE) & (recent > 0)) | ((direction == DROP) & (recent < 0))
    flag = scored & (best >= params.threshold) & confirmed
    return Scores(best, direction, window, severity, flag, scored)


def classifier_predictions(
    series: pd.DataFrame, baseline: pd.DataFrame, run_id: str, params: ScoringParams = ScoringParams(),
    *, versions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """`anomaly_classifier_model_prediction_log` rows: one per series x tick with a baseline;
    `versions`: the stores' evaluation versions (see `store_grids`)."""
    baseline_rows, expected_units = StoreRows.of(baseline), baseline["expected_units"].to_numpy(dtype=float)
    parts = []
    for grid in store_grids(series, versions):
        if grid.store_id not in baseline_rows.positions:
            continue
        expected = grid.cells(baseline_rows, baseline_rows.positions[grid.store_id], expected_units)
        s = score_windows(grid.units, expected, grid.day, params)
        parts.append(grid.rows(
            s.scored,
            anomaly_score=s.score,
            anomaly_flag=s.flag,
            direction=direction_codes(s.direction),
            window_ticks=s.window_ticks,
            severity_score=s.severity,
            version=grid.version,
        ))
    rows = long_rows(parts, labels={"direction": DIRECTIONS})
    return model_log_rows(rows, ANOMALY_CLASSIFIER_MODEL_PREDICTION_LOG, model_version(MODEL_VERSION, params), run_id)
