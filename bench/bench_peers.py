"""`make bench`: MRS detection beside its peers on one generated world with truth.

Side by side, on the same series: MRS (baseline + classifier + detection + cohorting, the stage
functions the assets call, store by store); a rolling z-score (the usual first attempt: a tick
more than 3 standard deviations from its series' trailing 288 ticks, a day's worth); and adtk's PersistAD and
LevelShiftAD (adtk 0.6.2, the last release, installed by `make bench` as the `bench` extra). The
peers flag ticks; their flags become events the way MRS's reports do (per store, a gap of more
than 30 minutes starts a new event), so every detector is scored by the same event-level
evaluation (`mrs evaluate`). Throughput is the series' ticks (every trading tick of every series,
the baseline's warm-up week included) over the median time. The peers get the dense series MRS scores (every trading tick, zero
where nothing sold), built once and not timed. Times are medians of `--repeats` runs; the results
are also written to bench/results.md.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from mrs_dagster.stages.baseline import baseline_predictions
from mrs_dagster.stages.classifier import classifier_predictions
from mrs_dagster.stages.cohorting import CohortingParams, cohort_reports, store_watermarks
from mrs_dagster.stages.detection import detect_minority_reports
from mrs_dagster.stages.evaluation import evaluate_events
from mrs_dagster.stages.hydrate import latest
from mrs_dagster.stages.ingest import daily_summary
from mrs_dagster.stages.series_grid import long_rows, store_grids
from mrs_dagster.synthetic import WorldSpec, generate_world
from results import write_section

DAY_TICKS = 288


def mrs(series: pd.DataFrame) -> pd.DataFrame:
    """MRS's events."""
    reports = []
    for _, store_series in series.groupby("store_id"):
        baseline = baseline_predictions(store_series, "bench")
        classifier = classifier_predictions(store_series, baseline, "bench")
        reports.append(detect_minority_reports(store_series, baseline, classifier, "bench"))
    watermarks = store_watermarks(daily_summary(series))
    events = cohort_reports(pd.concat(reports, ignore_index=True), watermarks, "bench").events
    return latest(events, "event_id")


def rolling_zscore(series: pd.DataFrame) -> pd.DataFrame:
    """Ticks more than 3 standard deviations from the mean of their series' 288 ticks before them."""
    s = series.sort_values(["store_id", "sku", "ts"])
    trailing = s.groupby(["store_id", "sku"])["units"].rolling(DAY_TICKS, min_periods=DAY_TICKS)
    mean = trailing.mean().groupby(level=[0, 1]).shift().to_numpy()
    std = trailing.std().groupby(level=[0, 1]).shift().to_numpy()
    z = (s["units"].to_numpy() - mean) / np.where(std > 0, std, np.nan)
    return s.loc[np.abs(z) > 3, ["store_id", "ts"]]


def adtk_detector(name: str):
    from adtk.detector import LevelShiftAD, PersistAD

    return {"adtk PersistAD": lambda: PersistAD(window=12, c=3.0, side="both"),
            "adtk LevelShiftAD": lambda: LevelShiftAD(window=12, c=6.0, side="both")}[name]


def adtk_flags(series: pd.DataFrame, name: str) -> pd.DataFrame:
    """Ticks adtk's detector flags, fitted per series on its own ticks."""
    flagged = []
    for (store_id, _), one in series.groupby(["store_id", "sku"]):
        values = one.set_index("ts")["units"].asfreq("5min")  # adtk wants a regular index: closed hours are NaN
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # adtk 0.6.2 predates pandas 2's dtype warnings
            hits = adtk_detector(name)().fit_detect(values)
        hits = hits[hits.eq(True)]  # NaN: a closed hour, not a flag
        flagged.append(pd.DataFrame({"store_id": store_id, "ts": hits.index}))
    return pd.concat(flagged, ignore_index=True)


def flags_to_events(flags: pd.DataFrame, gap: pd.Timedelta) -> pd.DataFrame:
    """Per store, flagged ticks within `gap` of each other as one event (store_id, window_start, window_end)."""
    f = flags.drop_duplicates().sort_values(["store_id", "ts"])
    starts = f.groupby("store_id")["ts"].diff().gt(gap) | f["store_id"].ne(f["store_id"].shift())
    f = f.assign(event=starts.cumsum())
    return f.groupby("event").agg(store_id=("store_id", "first"), window_start=("ts", "min"), window_end=("ts", "max"))


def timed(run, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - t0)
    return out, float(np.median(times))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--stores", type=int, default=12)
    p.add_argument("--skus", type=int, default=40)
    p.add_argument("--days", type=int, default=14)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    world = generate_world(WorldSpec(seed=args.seed, stores=args.stores, skus=args.skus, days=args.days))
    series = world.sales.assign(feed_version=1)
    # The peers get the series MRS scores: every trading tick, zero where a SKU sold nothing.
    dense = long_rows([grid.rows(units=grid.units) for grid in store_grids(series)])
    ticks = len(dense)
    gap = CohortingParams().gap_threshold

    rows = []
    events, seconds = timed(lambda: mrs(series), args.repeats)
    rows.append(("MRS", events, seconds))
    peers = {"rolling z-score": rolling_zscore, **{n: (lambda s, n=n: adtk_flags(s, n))
                                                   for n in ("adtk PersistAD", "adtk LevelShiftAD")}}
    for name, detect in peers.items():
        flags, seconds = timed(lambda: detect(dense), args.repeats)
        rows.append((name, flags_to_events(flags, gap), seconds))

    table = []
    for name, found, seconds in rows:
        overall = evaluate_events(found, world.truth).set_index("cause").loc["overall"]
        table.append({"detector": name, "events": len(found), "recall": overall["recall"],
                      "precision": overall["precision"], "event F1": overall["f1"],
                      "seconds (median)": seconds, "series-ticks/s": ticks / seconds})
    result = pd.DataFrame(table)
    mrs_f1 = result.loc[0, "event F1"]
    result["F1 vs MRS"] = result["event F1"] / mrs_f1
    result["speed vs MRS"] = result["series-ticks/s"] / result.loc[0, "series-ticks/s"]
    text = (f"world: {args.stores} stores x {args.skus} SKUs x {args.days} days (seed {args.seed}), {ticks:,} "
            f"series-ticks, {len(world.truth)} truth anomalies; times are medians of {args.repeats} runs\n\n"
            + result.to_markdown(index=False, floatfmt=",.3f"))
    print(text)
    write_section("Detectors side by side (bench/bench_peers.py)", text)


if __name__ == "__main__":
    main()
