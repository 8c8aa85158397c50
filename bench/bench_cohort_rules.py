"""`make bench`: a cohort rule over 1,000,000 combos (1,000 stores x 1,000 SKUs), on the compiled
path and on the general evaluator, in one run; both must select the same combos.

Target: the compiled path under 0.5 s (seed 004's fast path claims under 1 s for 200k entities).
The entity table is built once, as `cohort_membership` does, and timed apart.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from mrs_dagster.cohorts.fields import entity_table
from mrs_dagster.cohorts.rules import compiled_mask, compiles, general_mask, parse_rule

RULE = {"all": [
    {"fact": "store.region", "operator": "in", "value": ["north", "east"]},
    {"fact": "sku.category", "operator": "notEqual", "value": "bakery"},
    {"fact": "combo.avg_daily_units", "operator": "between", "value": [5, 40]},
    {"any": [
        {"fact": "sku.brand", "operator": "regex", "value": "^(acme|coast)"},
        {"fact": "combo.events_last_7d", "operator": "greaterThanInclusive", "value": 1},
        {"not": {"fact": "store.format", "operator": "equal", "value": "express"}},
    ]},
]}


def frames(stores: int, skus: int, seed: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    store_ids = [f"S{i:05d}" for i in range(stores)]
    sku_ids = [f"K{i:06d}" for i in range(skus)]
    store_rows = pd.DataFrame({"store_id": store_ids, "retailer": "acme",
                               "region": rng.choice(["north", "south", "east", "west", ""], stores),
                               "format": rng.choice(["express", "superstore", "metro"], stores)})
    sku_rows = pd.DataFrame({"sku": sku_ids, "category": rng.choice(["produce", "dairy", "bakery", "drinks"], skus),
                             "brand": rng.choice(["acme", "coastal", "evergreen", "north co", ""], skus),
                             "unit_price": rng.uniform(0.2, 9.0, skus).round(2).astype(str)})
    combos = pd.DataFrame({"store_id": np.repeat(store_ids, skus), "sku": np.tile(sku_ids, stores)})
    combos["combo_id"] = combos["store_id"] + ":" + combos["sku"]
    catalog = combos.assign(version=1, created_at=pd.Timestamp("2026-03-01", tz="UTC"))
    n = len(combos)
    avg = rng.gamma(2.0, 8.0, n)
    avg[rng.random(n) < 0.02] = np.nan  # a few series without metrics: NULL
    metrics = combos.assign(avg_daily_units=avg, events_last_7d=rng.poisson(0.2, n).astype(float),
                            store_open_events=0.0)
    return {"stores": store_rows, "skus": sku_rows, "metrics": metrics, "combo_catalog": catalog}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--stores", type=int, default=1000)
    p.add_argument("--skus", type=int, default=1000)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--repeats", type=int, default=5, help="compiled path: median of this many timings")
    args = p.parse_args()
    inputs = frames(args.stores, args.skus, args.seed)
    t0 = time.perf_counter()
    table = entity_table("combo", inputs)
    table_s = time.perf_counter() - t0
    rule = parse_rule(RULE)
    assert compiles(rule)
    timings = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        compiled = compiled_mask(rule, table)
        timings.append(time.perf_counter() - t0)
    compiled_s = float(np.median(timings))
    t0 = time.perf_counter()
    general = general_mask(rule, table)
    general_s = time.perf_counter() - t0
    assert (compiled == general).all(), "the compiled path and the general evaluator disagree"
    print(f"cohort rule over {len(table):,} combos ({args.stores} stores x {args.skus} SKUs), "
          f"{int(compiled.sum()):,} members; entity table built in {table_s:.2f} s")
    print(f"compiled path: {compiled_s:.3f} s (median of {args.repeats}; target < 0.5 s), "
          f"{len(table) / compiled_s:,.0f} combos/s")
    print(f"general evaluator: {general_s:.1f} s ({len(table) / general_s:,.0f} combos/s, batches of 500); same members")


if __name__ == "__main__":
    main()
