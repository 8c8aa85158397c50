"""Evaluation versions: which rows of a log are current after a store's history is re-evaluated.

A store's history from some tick on is re-evaluated for two reasons:
- a retailer resends corrected data (a delivery with a higher `feed_version`, seed 001 §12).
  Everything MRS computes for a store at tick t depends on its sales up to t (the baseline learns
  from the days before), so the store's *data version* at t is the highest feed_version among its
  rows at or before t;
- the detection models change (seed 001 §10, recall on a model update): a new *model generation*
  re-evaluates every store from its `effective_from` tick on (generation 1 evaluates all history).

Every per-tick row of a log carries in `version` the store's evaluation version at its
`written_at`: data version + model generation - 1. At a given tick both only ever rise, so every
re-evaluation raises the version of exactly the ticks it re-evaluates, whatever the order of
resends and model updates. A row is current when its version equals the store's version at its
`written_at`, superseded otherwise. Superseded rows stay in the logs (the audit trail); readers
take the current ones.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

import numpy as np
import pandas as pd

from mrs_dagster.contracts import RESOLUTION_DATA_CORRECTION, RESOLUTION_MODEL_UPDATE, Dataset
from mrs_dagster.stages.frames import set_columns, text_positions, without

_STEP = ["version", "data_version", "model_generation"]


def feed_versions(summary: pd.DataFrame) -> pd.DataFrame:
    """Per store and feed_version of a current series, from its daily summary
    (`stages.ingest.daily_summary`): the first and last tick that version's rows cover
    (`effective_from`, `effective_to`)."""
    spans = summary.groupby(["store_id", "feed_version"], sort=True).agg(
        effective_from=("first_ts", "min"), effective_to=("last_ts", "max")).reset_index()
    return spans.rename(columns={"feed_version": "version"})


def evaluation_versions(spans: pd.DataFrame, generations: pd.DataFrame | None = None) -> pd.DataFrame:
    """The stores' evaluation versions as steps (store_id, version, data_version, model_generation,
    effective_from, effective_to) from the feed-version `spans` (`feed_versions`) and the
    `model_generations` log. A step's span is what its re-evaluation covered: the resent rows, or
    a model generation's recall window (`effective_from` to the newest tick when it was registered)."""
    data_steps = spans.rename(columns={"version": "feed_version"})[["store_id", "feed_version", "effective_from", "effective_to"]]
    recalls = _recalls(generations)
    model_steps = spans[["store_id"]].drop_duplicates().merge(recalls, how="cross")
    model_steps = model_steps.rename(columns={"written_at": "effective_to"})[["store_id", "effective_from", "effective_to"]]
    steps = pd.concat([data_steps.drop(columns="feed_version"), model_steps], ignore_index=True)
    steps = steps.groupby(["store_id", "effective_from"], as_index=False)["effective_to"].max()
    data_version = _step_lookup(steps, data_steps.rename(columns={"feed_version": "value"}), by_store=True)
    generation = _step_lookup(steps, recalls.rename(columns={"generation": "value"}), by_store=False)
    steps["data_version"] = np.maximum(data_version, 1)
    steps["model_generation"] = np.maximum(generation, 1)
    steps["version"] = steps["data_version"] + steps["model_generation"] - 1
    return steps[["store_id", *_STEP, "effective_from", "effective_to"]].sort_values(["store_id", "effective_from"], ignore_index=True)


def _recalls(generations: pd.DataFrame | None) -> pd.DataFrame:
    """The generations that re-evaluated history from a tick on (generation 1 evaluates it all)."""
    columns = ["generation", "effective_from", "written_at"]
    if generations is None or generations.empty:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "generation" else "datetime64[ns, UTC]") for c in columns})
    return generations.loc[generations["effective_from"].notna(), columns]


def _step_lookup(points: pd.DataFrame, steps: pd.DataFrame, by_store: bool) -> np.ndarray:
    """At each (store_id, effective_from) of `points`, the running max of `steps.value` over the
    steps (of that store when `by_store`) starting at or before it; 0 before the first."""
    left = points[["store_id", "effective_from"]].assign(_row=np.arange(len(points))).sort_values("effective_from")
    right = steps.sort_values("effective_from")
    keys = ["store_id"] if by_store else []
    right = right.assign(value=right.groupby("store_id")["value"].cummax() if by_store else right["value"].cummax())
    right = right[[*keys, "effective_from", "value"]].astype({"effective_from": left["effective_from"].dtype})
    joined = pd.merge_asof(left, right, on="effective_from", by=keys or None)
    return joined.sort_values("_row")["value"].fillna(0).to_numpy(dtype=np.int64)


def corrected_spans(versions: pd.DataFrame) -> pd.DataFrame:
    """The spans of re-evaluations: resends (feed_version > 1) and model generations after the first."""
    return versions[versions["version"] > 1]


def steps_at(frame: pd.DataFrame, versions: pd.DataFrame, ts_column: str = "written_at",
             columns: tuple[str, ...] = tuple(_STEP)) -> pd.DataFrame:
    """The store's evaluation step (`columns` of version, data_version, model_generation) at each
    row's `ts_column`, indexed like `frame` (all 1 before any step).

    A store has a handful of steps and a log tens of millions of rows, so the steps go into a
    stores x steps grid, each row finds the last step it has reached, one vectorized pass per
    step rank, and takes each column from the grid in one pass: no sort or join of the rows."""
    steps = versions.sort_values(["store_id", "effective_from"], kind="stable")
    stores = pd.Index(steps["store_id"].unique())
    step_store = text_positions(steps["store_id"], stores)
    rank = steps.groupby("store_id", sort=False).cumcount().to_numpy() + 1
    # Rank 0 is "before any step"; one row more than the stores: a row of a store without steps
    # (index -1) lands on it and reaches no step.
    grid = (len(stores) + 1, int(rank.max()) + 1 if len(steps) else 1)
    starts = np.full(grid, np.iinfo(np.int64).max)
    starts[step_store, rank] = _nanoseconds(steps["effective_from"])
    row_store, row_time = text_positions(frame["store_id"], stores), _nanoseconds(frame[ts_column])
    reached = np.zeros(len(frame), dtype=np.int64)
    for k in range(1, grid[1]):
        reached[row_time >= starts[row_store, k]] = k
    result = {}
    for column in columns:
        values = np.ones(grid, dtype=np.int64)
        values[step_store, rank] = steps[column].to_numpy()
        result[column] = values[row_store, reached]
    return pd.DataFrame(result, index=frame.index)


def _nanoseconds(stamps: pd.Series) -> np.ndarray:
    # Not `to_numpy()`: on a tz-aware column it builds one Timestamp object per row.
    return pd.DatetimeIndex(stamps).as_unit("ns").asi8


def version_at(frame: pd.DataFrame, versions: pd.DataFrame, ts_column: str = "written_at") -> np.ndarray:
    """The store's evaluation version at each row's `ts_column` (1 before any step)."""
    return steps_at(frame, versions, ts_column, columns=("version",))["version"].to_numpy()


def current_rows(log: pd.DataFrame, versions: pd.DataFrame) -> pd.DataFrame:
    """The rows of `log` computed from the current evaluation of their store at their `written_at`."""
    if log.empty or versions.empty:
        return log
    return without(log, log["version"].to_numpy() != version_at(log, versions))


def reevaluation_reason(old_version: np.ndarray, now: pd.DataFrame) -> np.ndarray:
    """Why rows of version `old_version` were superseded, given the steps `now` (`steps_at`):
    'data correction' when the old version proves the rows were computed by the current model
    generation (so only the data changed), 'model update' otherwise (also when both changed, or
    when the versions cannot tell which did)."""
    oldest_possible_generation = np.maximum(old_version - now["data_version"].to_numpy() + 1, 1)
    same_models = oldest_possible_generation >= now["model_generation"].to_numpy()
    return np.where(same_models, RESOLUTION_DATA_CORRECTION, RESOLUTION_MODEL_UPDATE)


def resend_scope(rows: pd.DataFrame) -> tuple[list[str], pd.Timestamp] | None:
    """The stores and first tick a delivery's superseding rows (feed_version > 1) cover, or None
    when it supersedes nothing."""
    resent = rows[rows["feed_version"] > 1]
    if resent.empty:
        return None
    return sorted(resent["store_id"].unique()), resent["ts"].min()


def model_version(name: str, params) -> str:
    """A model's version: its code version `name`, suffixed with a digest of its parameters (a
    dataclass) when they differ from the defaults, so retuning a model is a model change."""
    if params == type(params)():
        return name
    digest = hashlib.sha1(json.dumps(asdict(params), sort_keys=True, default=str).encode()).hexdigest()[:8]
    return f"{name}+{digest}"


def model_log_rows(rows: pd.DataFrame, log: Dataset, model: str, run_id: str) -> pd.DataFrame:
    """A model log's rows from its long rows (store_id, sku, ts, the model's columns and `version`:
    `series_grid.long_rows`), stamped in place with `model` (its model_version), `written_at` (the
    tick) and `run_id`, in the contract's column order: `version` is moved after `written_at`, as
    reordering afterwards would copy every row."""
    if rows.empty:
        return log.empty()
    return set_columns(rows, model_version=model, written_at=rows["ts"], version=rows.pop("version"), run_id=run_id)


def next_generation(
    generations: pd.DataFrame, baseline_version: str, classifier_version: str,
    newest_tick: pd.Timestamp, recall_days: int,
) -> pd.DataFrame:
    """The `model_generations` row to register when the models differ from the newest registered
    generation, else no row. The first generation evaluates all history (`effective_from` NULL);
    a later one re-evaluates the recall window: the newest tick's day and the `recall_days - 1`
    days before it (`recall_start`)."""
    columns = ["generation", "baseline_model_version", "classifier_model_version", "effective_from", "written_at"]
    newest = generations.sort_values("generation").tail(1)
    if not newest.empty and (newest["baseline_model_version"].iloc[0], newest["classifier_model_version"].iloc[0]) == (
        baseline_version, classifier_version
    ):
        return pd.DataFrame(columns=columns)
    return pd.DataFrame({
        "generation": [1 if newest.empty else int(newest["generation"].iloc[0]) + 1],
        "baseline_model_version": [baseline_version],
        "classifier_model_version": [classifier_version],
        "effective_from": pd.Series([pd.NaT if newest.empty else recall_start(newest_tick, recall_days)], dtype="datetime64[ns, UTC]"),
        "written_at": pd.Series([newest_tick], dtype="datetime64[ns, UTC]"),
    })


def recall_start(newest_tick: pd.Timestamp, recall_days: int) -> pd.Timestamp:
    """The first tick a model update re-evaluates: the start (UTC) of the day `recall_days - 1`
    days before the newest tick's. A day start, so no classifier window straddles it."""
    return newest_tick.normalize() - pd.Timedelta(days=recall_days - 1)
