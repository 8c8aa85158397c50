"""The field registry: every field a cohort rule may use, its entity and its type, and the entity
tables rules are evaluated over (one row per store, SKU or combo, one column per field).

Reference fields come from the reference files; derived metrics from `cohort_metrics`:
    combo.avg_daily_units   mean units per trading day over the 7 days up to the newest tick
    combo.events_last_7d    minority events of the combo's store and SKU ending in those 7 days
    store.open_events       minority events of the store still active
    combo.catalog_version   the combo catalog version that first listed the combo
Blank reference cells are NULL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

STRING, NUMBER = "string", "number"


@dataclass(frozen=True)
class Field:
    name: str  # entity.column
    type: str  # STRING | NUMBER
    description: str

    @property
    def entity(self) -> str:
        return self.name.split(".", 1)[0]


FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        Field("store.store_id", STRING, "the store's id"),
        Field("store.retailer", STRING, "reference/stores.csv"),
        Field("store.region", STRING, "reference/stores.csv"),
        Field("store.format", STRING, "reference/stores.csv"),
        Field("store.open_events", NUMBER, "minority events of the store still active"),
        Field("sku.sku", STRING, "the SKU's id"),
        Field("sku.category", STRING, "reference/skus.csv"),
        Field("sku.brand", STRING, "reference/skus.csv"),
        Field("sku.unit_price", NUMBER, "reference/skus.csv"),
        Field("combo.combo_id", STRING, "the combo's id in the combo catalog"),
        Field("combo.catalog_version", NUMBER, "the combo catalog version that first listed the combo"),
        Field("combo.avg_daily_units", NUMBER, "mean units per trading day over the last 7 days"),
        Field("combo.events_last_7d", NUMBER, "minority events of the combo ending in the last 7 days"),
    )
}


def entity_scope(fields: set[str]) -> str:
    """Seed 004's scope detection: a combo field, or store and SKU fields together, scope to
    combos; only store fields to stores; only SKU fields to SKUs."""
    entities = {FIELDS[f].entity for f in fields}
    if "combo" in entities or {"store", "sku"} <= entities:
        return "combo"
    if entities == {"store"}:
        return "store"
    if entities == {"sku"}:
        return "sku"
    raise ValueError("a rule must use at least one field")


def _prefixed(frame: pd.DataFrame, entity: str) -> pd.DataFrame:
    """The entity's registry fields from `frame`'s columns, named and typed as the registry says."""
    columns = [name.split(".", 1)[1] for name, f in FIELDS.items() if f.entity == entity]
    out = frame[columns].rename(columns={c: f"{entity}.{c}" for c in columns})
    for name in out.columns:
        out[name] = _typed(out[name], FIELDS[name].type)
    return out


def _typed(values: pd.Series, kind: str) -> pd.Series:
    """Numbers as float (NaN is NULL); strings as object, blank and missing as None."""
    if kind == NUMBER:
        return pd.to_numeric(values, errors="coerce").astype(float)
    text = values.astype(object).where(values.notna(), None)
    return text.where(text.map(lambda v: v is not None and str(v).strip() != ""), None)


def entity_table(scope: str, frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The entities of `scope` with every field a rule on them may use, plus `member_id`,
    `store_id` and `sku` (None where the entity has none). `frames`: `stores` and `skus` (reference
    rows) as the scope needs them, `metrics` (`cohort_metrics` rows) and, for combos,
    `combo_catalog`."""
    metrics = frames["metrics"]
    if scope == "sku":
        table = _sku_table(frames["skus"])
        return table.assign(member_id=table["sku"], store_id=None)
    stores = _store_table(frames["stores"], metrics)
    if scope == "store":
        return stores.assign(member_id=stores["store_id"], sku=None)
    combos = frames["combo_catalog"].sort_values("version").drop_duplicates("combo_id")
    combos = combos.merge(metrics[["combo_id", "avg_daily_units", "events_last_7d"]], on="combo_id", how="left")
    combos = combos.rename(columns={"version": "catalog_version"})
    table = pd.concat([combos[["combo_id", "store_id", "sku"]], _prefixed(combos, "combo")], axis=1)
    table = table.merge(stores, on="store_id", how="left").merge(_sku_table(frames["skus"]), on="sku", how="left")
    return table.rename(columns={"combo_id": "member_id"}).reset_index(drop=True)


def _store_table(stores: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    open_events = metrics.groupby("store_id")["store_open_events"].max().rename("open_events")
    rows = stores.drop_duplicates("store_id").merge(open_events, left_on="store_id", right_index=True, how="left")
    rows["open_events"] = rows["open_events"].fillna(0.0)
    return pd.concat([rows[["store_id"]], _prefixed(rows, "store")], axis=1).reset_index(drop=True)


def _sku_table(skus: pd.DataFrame) -> pd.DataFrame:
    rows = skus.drop_duplicates("sku")
    return pd.concat([rows[["sku"]], _prefixed(rows, "sku")], axis=1).reset_index(drop=True)
