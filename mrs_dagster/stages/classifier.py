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
from mrs_dagster.stages.series_grid import GridRows, StoreGrid, StoreRows, long_rows, map_store_grids
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


def _cumulative(values: np.ndarray) -> np.ndarray:
    """Each row's running sum, from 0 before its first tick: a (K, J + 1) array."""
    out = np.zeros((values.shape[0], values.shape[1] + 1))
    np.cumsum(values, axis=1, out=out[:, 1:])
    return out


def _window_sums(cumulative: np.ndarray, w: int) -> np.ndarray:
    """The sums over the windows of `w` ticks ending at ticks w - 1, w, ... (a (K, J - w + 1) array)
    from `_cumulative`: one subtraction a window, where summing each window again took one pass
    over the whole grid per window and per quantity."""
    return cumulative[:, w:] - cumulative[:, :-w]


def _within_a_day(day: np.ndarray, w: int) -> np.ndarray:
    """Whether the window of `w` ticks ending at each of ticks w - 1, w, ... lies within one day (a
    window never reaches back across a night the store was closed)."""
    return day[w - 1 :] == day[: len(day) - w + 1]


def direction_codes(direction: np.ndarray) -> np.ndarray:
    """SPIKE, DROP or 0 as positions in the contract's DIRECTIONS (-1: none)."""
    return np.select([direction == SPIKE, direction == DROP], [DIRECTIONS.index("spike"), DIRECTIONS.index("drop")], -1)


def score_windows(units: np.ndarray, expected: np.ndarray, day: np.ndarray, params: ScoringParams) -> Scores:
    """Score every (series, tick) cell of one store; `day` labels each tick's day. Each window's
    quantities exist from its last tick on, so they are (K, J - w + 1) arrays set into the (K, J)
    scores through views (`ending`), and what is kept of a window is computed only where it won."""
    scored = ~np.isnan(expected)
    observed = np.floor(np.maximum(units, 0.0))
    expected0 = np.where(scored, expected, 0.0)
    observed_sums, expected_sums, scored_sums = (_cumulative(v) for v in (observed, expected0, scored))
    best = np.zeros(units.shape)
    direction = np.zeros(units.shape, dtype=np.int8)
    window = np.zeros(units.shape, dtype=np.int64)
    severity = np.zeros(units.shape)
    for w in params.windows:
        if w > units.shape[1]:
            continue
        ending = np.s_[:, w - 1 :]
        o = _window_sums(observed_sums, w)
        e = np.maximum(_window_sums(expected_sums, w), params.min_expected_per_tick * w)
        complete = (_window_sums(scored_sums, w) == w) & _within_a_day(day, w)
        spike = complete & (o >= params.spike_ratio * e) & (o - e >= params.min_excess)
        drop = complete & (o <= params.drop_ratio * e) & (e - o >= params.min_excess)
        # Tail probabilities only where the window moved enough: most cells never need one.
        surprise = np.zeros(o.shape)
        for moved, tail in ((spike, lambda o_, e_: pdtrc(o_ - 1, e_)), (drop, pdtr)):
            surprise[moved] = np.minimum(-np.log10(np.maximum(tail(o[moved], e[moved]), 1e-300)), _MAX_SURPRISE)
        better = (spike | drop) & (surprise > best[ending])
        o, e = o[better], e[better]
        best[ending][better] = surprise[better]
        direction[ending][better] = np.where(spike[better], SPIKE, DROP)
        window[ending][better] = w
        severity[ending][better] = np.minimum(np.abs(np.log2((o + 1) / (e + 1))) / 3, 1.0)
    confirmed = np.zeros(units.shape, dtype=bool)
    if units.shape[1] >= _CONFIRM_TICKS:
        ending = np.s_[:, _CONFIRM_TICKS - 1 :]
        recent = _window_sums(observed_sums, _CONFIRM_TICKS) - _window_sums(expected_sums, _CONFIRM_TICKS)
        moving = ((direction[ending] == SPIKE) & (recent > 0)) | ((direction[ending] == DROP) & (recent < 0))
        confirmed[ending] = moving & _within_a_day(day, _CONFIRM_TICKS)
    flag = scored & (best >= params.threshold) & confirmed
    return Scores(best, direction, window, severity, flag, scored)


def classifier_predictions(
    series: pd.DataFrame, baseline: pd.DataFrame, run_id: str, params: ScoringParams = ScoringParams(),
    *, versions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """`anomaly_classifier_model_prediction_log` rows: one per series x tick with a baseline;
    `versions`: the stores' evaluation versions (see `map_store_grids`)."""
    baseline_rows, expected_units = StoreRows.of(baseline), baseline["expected_units"].to_numpy(dtype=float)

    def scored_rows(grid: StoreGrid) -> GridRows | None:
        if grid.store_id not in baseline_rows.positions:
            return None
        expected = grid.cells(baseline_rows, baseline_rows.positions[grid.store_id], expected_units)
        s = score_windows(grid.units, expected, grid.day, params)
        return grid.rows(
            s.scored,
            anomaly_score=s.score,
            anomaly_flag=s.flag,
            direction=direction_codes(s.direction),
            window_ticks=s.window_ticks,
            severity_score=s.severity,
            version=grid.version,
        )

    parts = [part for part in map_store_grids(scored_rows, series, versions) if part is not None]
    rows = long_rows(parts, labels={"direction": DIRECTIONS})
    return model_log_rows(rows, ANOMALY_CLASSIFIER_MODEL_PREDICTION_LOG, model_version(MODEL_VERSION, params), run_id)
