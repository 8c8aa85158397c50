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

from dataclasses import dataclass

import pandas as pd

ENTITY_TYPES = ("store", "sku", "combo")
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


def _prefixed(frame: pd.DataFrame, entity: str, columns: list[str]) -> pd.DataFrame:
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


def _field_columns(entity: str) -> list[str]:
    return [name.split(".", 1)[1] for name, f in FIELDS.items() if f.entity == entity]


def entity_table(scope: str, stores: pd.DataFrame, skus: pd.DataFrame, combo_catalog: pd.DataFrame,
                 metrics: pd.DataFrame) -> pd.DataFrame:
    """The entities of `scope` with every field a rule on them may use, plus `member_id`,
    `store_id` and `sku` (None where the entity has none). `metrics`: `cohort_metrics` rows."""
    open_events = metrics.groupby("store_id")["store_open_events"].max().rename("open_events")
    store_rows = stores.drop_duplicates("store_id").merge(open_events, left_on="store_id", right_index=True, how="left")
    store_rows["open_events"] = store_rows["open_events"].fillna(0.0)
    store_table = pd.concat([store_rows[["store_id"]], _prefixed(store_rows, "store", _field_columns("store"))], axis=1)
    sku_table = pd.concat([skus.drop_duplicates("sku")[["sku"]], _prefixed(skus.drop_duplicates("sku"), "sku",
                                                                          _field_columns("sku"))], axis=1)
    if scope == "store":
        return store_table.assign(member_id=store_table["store_id"], sku=None).reset_index(drop=True)
    if scope == "sku":
        return sku_table.assign(member_id=sku_table["sku"], store_id=None).reset_index(drop=True)
    combos = combo_catalog.sort_values("version").drop_duplicates("combo_id")
    combos = combos.merge(metrics[["combo_id", "avg_daily_units", "events_last_7d"]], on="combo_id", how="left")
    combos = combos.rename(columns={"version": "catalog_version"})
    table = pd.concat([combos[["combo_id", "store_id", "sku"]], _prefixed(combos, "combo", _field_columns("combo"))], axis=1)
    table = table.merge(store_table, on="store_id", how="left").merge(sku_table, on="sku", how="left")
    return table.rename(columns={"combo_id": "member_id"}).reset_index(drop=True)
