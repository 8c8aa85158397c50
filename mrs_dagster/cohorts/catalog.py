"""The combo catalog, the derived metrics cohort rules use, and what changed between two looks at
them (for re-evaluating dynamic cohorts, seed 004's entity.updated flow)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from mrs_dagster.cohorts.fields import FIELDS, entity_table
from mrs_dagster.cohorts.specs import CohortSpec
from mrs_dagster.stages.hydrate import event_sku_rows
from mrs_dagster.stages.identity import stable_id

METRIC_DAYS = 7


def new_combos(catalog: pd.DataFrame, series: pd.DataFrame, run_id: str) -> pd.DataFrame:
    """The combo catalog rows to append: every store x SKU series of `series` not in `catalog`,
    under the next catalog version, `created_at` its first tick. None new: no row."""
    firsts = series.groupby(["store_id", "sku"], as_index=False)["ts"].min().rename(columns={"ts": "created_at"})
    firsts["combo_id"] = [stable_id(s, k) for s, k in zip(firsts["store_id"], firsts["sku"])]
    fresh = firsts[~firsts["combo_id"].isin(catalog["combo_id"])]
    version = int(catalog["version"].max()) + 1 if len(catalog) else 1
    return fresh.assign(version=version, run_id=run_id)[["combo_id", "version", "store_id", "sku", "created_at", "run_id"]]


def cohort_metrics(catalog: pd.DataFrame, series: pd.DataFrame, events: pd.DataFrame, run_id: str) -> pd.DataFrame:
    """Per combo of `catalog`, the derived fields of the registry as of the newest tick of the
    current `series`, from it and the hydrated minority `events`."""
    as_of = series["ts"].max()
    since = as_of.normalize() - pd.Timedelta(days=METRIC_DAYS - 1)
    recent = series[series["ts"] >= since]
    trading_days = recent.assign(day=recent["ts"].dt.normalize()).groupby("store_id")["day"].nunique()
    units = recent.groupby(["store_id", "sku"])["units"].sum()
    combos = catalog.drop_duplicates("combo_id")[["combo_id", "store_id", "sku"]]
    keys = pd.MultiIndex.from_frame(combos[["store_id", "sku"]])
    avg = units.reindex(keys).fillna(0.0).to_numpy() / combos["store_id"].map(trading_days).fillna(0).clip(lower=1).to_numpy()
    event_skus = event_sku_rows(events)
    ended_recently = event_skus[event_skus["window_end"] >= since].groupby(["store_id", "sku"])["event_id"].nunique()
    open_events = events[events["event_status"] == "active"].groupby("store_id")["event_id"].nunique()
    return combos.assign(
        avg_daily_units=avg,
        events_last_7d=ended_recently.reindex(keys).fillna(0).to_numpy(dtype=float),
        store_open_events=combos["store_id"].map(open_events).fillna(0).astype(float),
        as_of=as_of,
        run_id=run_id,
    )


def field_fingerprints(frames: Mapping[str, pd.DataFrame]) -> dict[str, str]:
    """A digest of every registry field's values over its own entities (store fields over the
    stores, SKU fields over the SKUs, combo fields over the combos), so comparing two looks tells
    which fields changed. `frames`: stores, skus, metrics, combo_catalog."""
    digests = {}
    for entity in ("store", "sku", "combo"):
        table = entity_table(entity, frames).sort_values("member_id")
        for name in (n for n, f in FIELDS.items() if f.entity == entity):
            values = table[["member_id", name]].astype(str)
            digests[name] = format(int(pd.util.hash_pandas_object(values, index=False).sum()) & (2**64 - 1), "016x")
    return digests


def changed_fields(before: Mapping[str, str], now: Mapping[str, str]) -> set[str]:
    """The fields whose digest differs (every field, when there was no earlier look)."""
    return {name for name, digest in now.items() if before.get(name) != digest}


# Which entities exist is a field too: a new combo changes `combo.combo_id`.
SCOPE_ID_FIELDS = {"store": "store.store_id", "sku": "sku.sku", "combo": "combo.combo_id"}


def cohorts_to_reevaluate(specs: list[CohortSpec], changed: set[str]) -> list[str]:
    """Seed 004's entity.updated flow: the dynamic cohorts whose rule fields, or the id field of
    their scope, overlap the `changed` fields."""
    return [s.cohort_id for s in specs
            if s.kind == "dynamic" and (s.fields | {SCOPE_ID_FIELDS[s.entity_scope]}) & changed]
