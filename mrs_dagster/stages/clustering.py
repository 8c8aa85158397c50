"""Clustering (MRCL): which cause pattern each report shares with others.

Reports are grouped by time sessions (consecutive report ticks no more than `gap` apart) along
three axes: the same SKU across stores, the same store across SKUs, the same region across
stores. At each report tick the counts use only report rows up to that tick, so a cluster grows
as its evidence arrives and every row stays what it was when it was written (log replay).

Patterns, first match wins:
- `store_wide`: the store reports >= `store_wide_skus` SKUs in >= `store_wide_categories`
  categories in one session (one store's whole range moving together);
- `sku_across_stores`: the SKU reports at >= `min_stores` stores in one session (viral demand);
- `region_multi_store`: >= `region_stores` stores of the region report in one session (weather);
- `store_multi_sku`: the store reports >= 2 SKUs in one session (a local event, a category);
- `isolated`: nothing else moves with it.
Without `skus` reference data the category condition is dropped; without `stores` there is no
region pattern.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mrs_dagster.contracts import REPORT_TICK_COLUMNS
from mrs_dagster.stages.identity import stable_ids
from mrs_dagster.stages.reference import with_region_and_category


@dataclass(frozen=True)
class ClusteringParams:
    gap: pd.Timedelta = pd.Timedelta(minutes=30)
    min_stores: int = 3
    store_wide_skus: int = 5
    store_wide_categories: int = 4
    region_stores: int = 2


def cluster_reports(
    detected: pd.DataFrame,
    stores: pd.DataFrame | None,
    skus: pd.DataFrame | None,
    run_id: str,
    params: ClusteringParams = ClusteringParams(),
) -> pd.DataFrame:
    """One MRCL row per MRDL row: the report's cluster as known at that tick."""
    r = with_region_and_category(
        detected[REPORT_TICK_COLUMNS].reset_index(drop=True), stores, skus
    )

    sku_session, sku_start = _sessions(r, "sku", params.gap)
    store_session, store_start = _sessions(r, "store_id", params.gap)
    sku_stores = _running_distinct(r, sku_session, "store_id")
    store_skus = _running_distinct(r, store_session, "sku")
    if skus is not None:
        store_wide = (store_skus >= params.store_wide_skus) & (
            _running_distinct(r, store_session, "category") >= params.store_wide_categories
        )
    else:
        store_wide = store_skus >= params.store_wide_skus
    if stores is not None:
        region_session, region_start = _sessions(r, "region", params.gap)
        region_stores = _running_distinct(r, region_session, "store_id")
    else:
        region_start, region_stores = r["written_at"], pd.Series(0, index=r.index)

    conditions = [
        store_wide,
        sku_stores >= params.min_stores,
        region_stores >= params.region_stores,
        store_skus >= 2,
    ]
    labels = ["store_wide", "sku_across_stores", "region_multi_store", "store_multi_sku"]
    label = pd.Series(np.select(conditions, labels, "isolated"), index=r.index)
    size = np.select(conditions, [store_skus, sku_stores, region_stores, store_skus], 1)
    anchors = {
        "sku_across_stores": ("sku", r["sku"], sku_start),
        "store_wide": ("store", r["store_id"], store_start),
        "store_multi_sku": ("store", r["store_id"], store_start),
        "region_multi_store": ("region", r["region"], region_start),
        "isolated": ("isolated", r["report_id"], pd.Series(pd.NaT, index=r.index)),
    }
    # Each label's rows are hashed from their own anchor columns, as they are typed: gathering
    # every anchor into arrays of Python objects first (a Timestamp a row) took most of the stage.
    cluster_id = np.empty(len(r), dtype=object)
    for lab, (kind, key, start) in anchors.items():
        at = label.eq(lab).to_numpy()
        if at.any():
            cluster_id[at] = stable_ids(np.full(at.sum(), kind, dtype=object), key[at], start[at])
    return r[REPORT_TICK_COLUMNS].assign(
        cluster_id=cluster_id, cluster_label=label, cluster_size=size.astype("int64"), run_id=run_id
    )


def unclustered(detected: pd.DataFrame, run_id: str) -> pd.DataFrame:
    """The rows clustering emits when it fails: every report, cluster columns NULL (seed 001 §5)."""
    return detected[REPORT_TICK_COLUMNS].assign(
        cluster_id=None, cluster_label=None, cluster_size=pd.array([pd.NA] * len(detected), dtype="Int64"),
        run_id=run_id,
    )


def _sessions(r: pd.DataFrame, key: str, gap: pd.Timedelta) -> tuple[pd.Series, pd.Series]:
    """Per row: the session of `key` it belongs to, and the session's first tick."""
    ordered = r.sort_values([key, "written_at"], kind="stable")
    new = ordered[key].ne(ordered[key].shift()) | (ordered["written_at"].diff() > gap)
    session = new.cumsum()
    start = ordered["written_at"].groupby(session).transform("first")
    return session.reindex(r.index), start.reindex(r.index)


def _running_distinct(r: pd.DataFrame, session: pd.Series, member: str) -> pd.Series:
    """Distinct `member` values seen in the row's session up to and including the row's tick."""
    frame = pd.DataFrame({"session": session, "t": r["written_at"], "m": r[member]}).sort_values(
        ["session", "t"], kind="stable"
    )
    first_seen = ~frame.duplicated(["session", "m"]) & frame["m"].notna()
    running = first_seen.astype(int).groupby(frame["session"]).cumsum()
    return running.groupby([frame["session"], frame["t"]]).transform("max").reindex(r.index)
