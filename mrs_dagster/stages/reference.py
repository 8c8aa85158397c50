"""Reference attributes joined onto report rows."""

from __future__ import annotations

import pandas as pd


def with_region_and_category(rows: pd.DataFrame, stores: pd.DataFrame | None, skus: pd.DataFrame | None) -> pd.DataFrame:
    """`rows` with the store's `region` and the SKU's `category` (NULL where the reference is missing)."""
    return rows.assign(
        region=rows["store_id"].map(stores.set_index("store_id")["region"]) if stores is not None else None,
        category=rows["sku"].map(skus.set_index("sku")["category"]) if skus is not None else None,
    )
