"""`mrs generate`: a synthetic retail world with known anomalies, deterministic by seed.

Stores in regions with trading hours, 5-minute ticks, daily and weekly seasonality, Poisson
units, SKU prices. Anomalies of every cause are embedded with the reference data that explains
them and written to `truth/anomalies.csv`. No anomaly starts before day `WARMUP_DAYS` (the
baseline needs a week to learn from), so a world of a week or less has none; anomalies at one
store never overlap.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mrs_dagster.contracts import LANDING_COLUMNS, REFERENCE_COLUMNS, TRUTH_COLUMNS
from mrs_dagster.progress import StepProgress
from mrs_dagster.stages.timestamps import TICK

WARMUP_DAYS = 7
RETAILERS = ("waitrose", "northmart", "freshco")
REGIONS = ("north", "south", "east", "west")
CATEGORIES = ("produce", "dairy", "bakery", "drinks", "ice_cream", "snacks", "household", "bbq")
WEATHER_SENSITIVE = ("drinks", "ice_cream", "bbq")
LOCAL_EVENT_CATEGORIES = ("drinks", "snacks")
BRANDS = ("acme", "brightfield", "coastal", "dunmore", "evergreen")
CATEGORY_PRICE = {"produce": 1.2, "dairy": 1.5, "bakery": 1.8, "drinks": 1.6, "ice_cream": 3.5,
                  "snacks": 1.4, "household": 4.0, "bbq": 5.5}
HOURS = {"superstore": (7, 22), "express": (8, 20)}
DOW_FACTOR = np.array([0.92, 0.9, 0.95, 1.0, 1.12, 1.3, 1.05])  # Monday first


@dataclass(frozen=True)
class WorldSpec:
    seed: int = 7
    stores: int = 12
    skus: int = 40
    days: int = 14
    start: str = "2026-03-02"


@dataclass
class World:
    spec: WorldSpec
    stores: pd.DataFrame
    skus: pd.DataFrame
    sales: pd.DataFrame  # store_id, sku, ts, units, sales_value (as delivered, data errors included)
    corrections: pd.DataFrame  # the corrected resend of the data errors, feed_version 2
    campaigns: pd.DataFrame
    context_events: pd.DataFrame
    truth: pd.DataFrame
    analysts: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {"analyst_id": ["AN-1", "AN-2", "AN-3", "AN-4"], "name": ["Lewis", "Priya", "Tom", "Ana"],
         "active": [True, True, True, False], "daily_capacity": [50, 30, 20, 10]}))


def _profile(hours: np.ndarray) -> np.ndarray:
    shape = 0.6 + 0.8 * np.exp(-0.5 * ((hours - 12.5) / 1.2) ** 2) + 1.0 * np.exp(-0.5 * ((hours - 17.5) / 1.5) ** 2)
    return shape / shape.mean()


class _Planner:
    """Places anomalies so that none overlaps another at the same store (with a 2-hour margin)."""

    def __init__(self, rng: np.random.Generator, spec: WorldSpec, stores: pd.DataFrame):
        self.rng, self.spec, self.stores = rng, spec, stores
        self.busy: dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]] = {s: [] for s in stores["store_id"]}
        self.day0 = pd.Timestamp(spec.start, tz="UTC")

    def free(self, store_id: str, start: pd.Timestamp, end: pd.Timestamp) -> bool:
        margin = pd.Timedelta(hours=2)
        return all(end + margin <= s or start >= e + margin for s, e in self.busy[store_id])

    def window(self, store_ids, hours_min: float, hours_max: float, tries: int = 200):
        """A (start, end) inside every store's trading hours on one day and free at each of them."""
        fmt = self.stores.set_index("store_id").loc[list(store_ids), "format"]
        open_h = max(HOURS[f][0] for f in fmt) + 1
        close_h = min(HOURS[f][1] for f in fmt) - 0.5
        if self.spec.days <= WARMUP_DAYS:
            return None
        for _ in range(tries):
            duration = self.rng.uniform(hours_min, hours_max)
            if open_h + duration > close_h:
                continue
            day = int(self.rng.integers(WARMUP_DAYS, self.spec.days))
            begin = self.rng.uniform(open_h, close_h - duration)
            start = (self.day0 + pd.Timedelta(days=day) + pd.Timedelta(hours=begin)).floor(TICK)
            end = (start + pd.Timedelta(hours=duration)).floor(TICK)
            if all(self.free(s, start, end) for s in store_ids):
                for s in store_ids:
                    self.busy[s].append((start, end))
                return start, end
        return None


def generate_world(spec: WorldSpec = WorldSpec()) -> World:
    rng = np.random.default_rng(spec.seed)
    stores = pd.DataFrame(
        {
            "store_id": [str(301 + i) for i in range(spec.stores)],
            "retailer": [RETAILERS[i % len(RETAILERS)] for i in range(spec.stores)],
            "region": [REGIONS[i % len(REGIONS)] for i in range(spec.stores)],
            "format": rng.choice(["superstore", "superstore", "express"], spec.stores),
        }
    )
    categories = np.array([CATEGORIES[i % len(CATEGORIES)] for i in range(spec.skus)])
    skus = pd.DataFrame(
        {
            "sku": [f"SKU{i + 1:04d}" for i in range(spec.skus)],
            "category": categories,
            "brand": rng.choice(BRANDS, spec.skus),
            "unit_price": np.round([CATEGORY_PRICE[c] * rng.lognormal(0, 0.3) for c in categories], 2),
        }
    )
    popularity = rng.lognormal(-0.7, 0.8, spec.skus)
    store_size = rng.lognormal(0, 0.25, spec.stores)
    rate = store_size[:, None] * popularity[None, :]  # (stores, skus) units per tick at an average moment

    planner = _Planner(rng, spec, stores)
    plan = _plan_anomalies(rng, spec, stores, skus, rate, planner)

    day0 = planner.day0
    sales_frames, correction_frames = [], []
    sku_index = {s: i for i, s in enumerate(skus["sku"])}
    for si, store in stores.iterrows():
        open_h, close_h = HOURS[store["format"]]
        ticks = pd.DatetimeIndex(
            [day0 + pd.Timedelta(days=d, hours=open_h) + TICK * t for d in range(spec.days)
             for t in range((close_h - open_h) * 12)]
        )
        hours = np.asarray(ticks.hour + ticks.minute / 60)
        lam = rate[si][:, None] * (_profile(hours) * DOW_FACTOR[ticks.dayofweek])[None, :]
        multiplier = np.ones_like(lam)
        price_factor = np.ones_like(lam)
        doubled = np.zeros(len(ticks), dtype=bool)
        for a in plan:
            if store["store_id"] not in a["stores"]:
                continue
            in_window = (ticks >= a["start"]) & (ticks < a["end"])
            rows = [sku_index[s] for s in a["skus"]] if a["skus"] else list(range(spec.skus))
            if a["cause"] == "data_error":
                doubled |= in_window
            else:
                multiplier[np.ix_(rows, in_window)] *= a["magnitude"]
                if a["cause"] == "promotion":
                    price_factor[np.ix_(rows, in_window)] = 0.85
        units = rng.poisson(lam * multiplier).astype(float)
        returns = (units == 0) & (rng.random(units.shape) < 0.002)
        units[returns] = -1.0
        value = np.round(units * skus["unit_price"].to_numpy()[:, None] * price_factor, 2)
        k, j = np.nonzero(units)
        true = pd.DataFrame({"store_id": store["store_id"], "sku": skus["sku"].to_numpy()[k], "ts": ticks[j],
                             "units": units[k, j], "sales_value": value[k, j]})
        bad = doubled[j]
        delivered = true.copy()
        delivered.loc[bad, ["units", "sales_value"]] *= 2
        sales_frames.append(delivered)
        correction_frames.append(true[bad])
    truth = pd.DataFrame(
        [(s, a["truth_sku"], a["start"], a["end"], a["cause"]) for a in plan for s in a["stores"]],
        columns=TRUTH_COLUMNS,
    ).sort_values(["start", "store_id"], ignore_index=True)
    return World(
        spec=spec,
        stores=stores,
        skus=skus,
        sales=pd.concat(sales_frames, ignore_index=True),
        corrections=pd.concat(correction_frames, ignore_index=True).assign(feed_version=2),
        campaigns=pd.DataFrame([a["campaign"] for a in plan if "campaign" in a], columns=REFERENCE_COLUMNS["campaigns"]),
        context_events=pd.DataFrame(
            [a["context"] for a in plan if "context" in a], columns=REFERENCE_COLUMNS["context_events"]
        ),
        truth=truth,
    )


def _plan_anomalies(rng, spec: WorldSpec, stores: pd.DataFrame, skus: pd.DataFrame, rate: np.ndarray, planner: _Planner):
    per_cause = max(2, round(spec.stores * spec.days / 28))
    store_ids = stores["store_id"].to_numpy()
    sku_ids = skus["sku"].to_numpy()
    categories = skus["category"].to_numpy()
    plan = []

    def busy_skus(si: int, quantile: float) -> np.ndarray:
        return sku_ids[rate[si] >= np.quantile(rate[si], quantile)]

    def add(cause, stores_, skus_, window, magnitude, truth_sku, **extra):
        start, end = window
        plan.append({"cause": cause, "stores": list(stores_), "skus": list(skus_), "start": start, "end": end,
                     "magnitude": magnitude, "truth_sku": truth_sku, **extra})

    for n in range(per_cause):  # promotions: one busy SKU, or a whole category, at one store
        si = int(rng.integers(len(store_ids)))
        store = store_ids[si]
        if (window := planner.window([store], 3, 8)) is None:
            continue
        if n % 3 == 2:
            category = str(rng.choice(CATEGORIES))
            chosen, sku_col, cat_col, truth_sku = sku_ids[categories == category], "", category, "*"
            magnitude = rng.uniform(1.6, 2.5)
        else:
            sku = str(rng.choice(busy_skus(si, 0.5)))
            chosen, sku_col, cat_col, truth_sku = [sku], sku, "", sku
            magnitude = rng.uniform(1.8, 3.5)
        campaign = {"campaign_id": f"CMP-{n + 1:03d}", "kind": "price_promotion", "store_id": store, "region": "",
                    "sku": sku_col, "category": cat_col, "start": _iso(window[0]), "end": _iso(window[1])}
        add("promotion", [store], chosen, window, magnitude, truth_sku, campaign=campaign)

    for n in range(max(1, per_cause // 2)):  # weather: a region's weather-sensitive categories
        region = REGIONS[n % len(REGIONS)]
        in_region = store_ids[stores["region"].to_numpy() == region]
        if len(in_region) == 0 or (window := planner.window(in_region, 3, 6)) is None:
            continue
        context = {"event_id": f"CTX-W{n + 1:03d}", "kind": "weather", "region": region, "store_id": "",
                   "start": _iso(window[0]), "end": _iso(window[1]), "description": "heatwave"}
        add("weather", in_region, sku_ids[np.isin(categories, WEATHER_SENSITIVE)], window, rng.uniform(1.8, 3.0), "*",
            context=context)

    for n in range(per_cause):  # local events: drinks and snacks at one store
        store = str(rng.choice(store_ids))
        if (window := planner.window([store], 2, 4)) is None:
            continue
        region = stores.set_index("store_id").loc[store, "region"]
        context = {"event_id": f"CTX-L{n + 1:03d}", "kind": "local_event", "region": region, "store_id": store,
                   "start": _iso(window[0]), "end": _iso(window[1]), "description": "football match nearby"}
        add("local_event", [store], sku_ids[np.isin(categories, LOCAL_EVENT_CATEGORIES)], window,
            rng.uniform(2.0, 4.0), "*", context=context)

    for _ in range(max(1, per_cause // 3)):  # viral demand: one SKU in many stores, nothing announced
        sku = str(rng.choice(sku_ids[_popularity_rank(rate) < len(sku_ids) // 2]))
        chosen_stores = rng.choice(store_ids, max(2, int(len(store_ids) * rng.uniform(0.5, 0.8))), replace=False)
        if (window := planner.window(chosen_stores, 2, 5)) is None:
            continue
        add("viral_demand", chosen_stores, [sku], window, rng.uniform(3.0, 6.0), sku)

    for _ in range(per_cause):  # data errors: every sale at a store doubled, corrected later
        store = str(rng.choice(store_ids))
        if (window := planner.window([store], 2, 6)) is None:
            continue
        add("data_error", [store], [], window, 2.0, "*")

    for _ in range(per_cause):  # stockouts: a busy SKU sells nothing
        si = int(rng.integers(len(store_ids)))
        if (window := planner.window([store_ids[si]], 3, 8)) is None:
            continue
        sku = str(rng.choice(busy_skus(si, 0.75)))
        add("stockout", [store_ids[si]], [sku], window, 0.0, sku)

    for _ in range(per_cause):  # unknown: a spike or a drop nothing explains
        si = int(rng.integers(len(store_ids)))
        drop = rng.random() < 0.3
        if (window := planner.window([store_ids[si]], 2 if drop else 1, 4 if drop else 3)) is None:
            continue
        sku = str(rng.choice(busy_skus(si, 0.75 if drop else 0.5)))
        add("unknown", [store_ids[si]], [sku], window, 0.1 if drop else rng.uniform(3.0, 5.0), sku)
    return plan


def _popularity_rank(rate: np.ndarray) -> np.ndarray:
    """Rank of each SKU by its mean rate across stores, 0 = best seller."""
    return np.argsort(np.argsort(-rate.mean(axis=0)))


def _iso(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


_TS_FORMATS = {  # how each retailer writes its ticks: exercising the tolerant parser on purpose
    "waitrose": lambda ts: ts.dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
    "northmart": lambda ts: ts.dt.strftime("%Y-%m-%d %H:%M:%S"),
    "freshco": lambda ts: (ts + pd.Timedelta(hours=1)).dt.strftime("%Y-%m-%dT%H:%M:%S+01:00"),
}


def write_steps(spec: WorldSpec) -> int:
    """The progress steps of `write_world` for `spec`: a sales delivery per retailer and day, the
    corrections, reference and truth."""
    return spec.days * min(spec.stores, len(RETAILERS)) + 2


def write_world(world: World, data_dir: Path, progress: StepProgress | None = None) -> None:
    """Write the world in the data-dir layout: landing/sales/, reference/, truth/, corrections/;
    a step of `progress` per delivery, then the corrections, then reference and truth."""
    step = progress.step if progress is not None else (lambda name: nullcontext())
    data_dir = Path(data_dir)
    for sub in ("landing/sales", "reference", "truth", "corrections"):
        (data_dir / sub).mkdir(parents=True, exist_ok=True)
    retailer_of = world.stores.set_index("store_id")["retailer"]
    sales = world.sales.assign(retailer=world.sales["store_id"].map(retailer_of), day=world.sales["ts"].dt.strftime("%Y-%m-%d"))
    for (retailer, day), rows in sales.groupby(["retailer", "day"]):
        with step(f"landing/sales/{retailer}_{day}"):
            _write_delivery(rows, retailer, data_dir / "landing/sales" / f"{retailer}_{day}", feed_version=None)
    with step("corrections"):
        corrections = world.corrections.assign(retailer=world.corrections["store_id"].map(retailer_of))
        for retailer, rows in corrections.groupby("retailer"):
            _write_delivery(rows, retailer, data_dir / "corrections" / f"{retailer}_correction", feed_version=2, fmt="csv")
    with step("reference and truth"):
        reference = {"stores": world.stores, "skus": world.skus, "campaigns": world.campaigns,
                     "context_events": world.context_events, "analysts": world.analysts}
        for name, frame in reference.items():
            frame[list(REFERENCE_COLUMNS[name])].to_csv(data_dir / "reference" / f"{name}.csv", index=False)
        truth = world.truth.assign(start=world.truth["start"].map(_iso), end=world.truth["end"].map(_iso))
        truth[list(TRUTH_COLUMNS)].to_csv(data_dir / "truth/anomalies.csv", index=False)


def _write_delivery(rows: pd.DataFrame, retailer: str, stem: Path, feed_version: int | None, fmt: str | None = None) -> None:
    out = rows.assign(retailer=retailer, ts=_TS_FORMATS[retailer](rows["ts"]), units=rows["units"].astype(int))
    out = out[list(LANDING_COLUMNS)]
    if feed_version is not None or retailer == "waitrose":
        out["feed_version"] = feed_version or 1
    fmt = fmt or ("parquet" if retailer == "northmart" else "csv")
    if fmt == "parquet":
        out.to_parquet(stem.with_suffix(".parquet"), index=False)
    else:
        out.to_csv(stem.with_suffix(".csv"), index=False)
