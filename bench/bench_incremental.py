"""`make bench`: what landing one more day costs after 10, 30 and 90 days of history.

For each history of N days, on one generated world of N + 1 days: `mrs run` over the first N days
(the history, not timed), then the last day's deliveries land and `mrs run` runs again (the
one-day run, incremental: `mrs_dagster.incremental`), against `mrs run` over all N + 1 days in a
fresh data dir (the full replay). Each run is a `mrs run` process with its own Dagster home, timed
wall-clock; the one-day run is repeated from a copy of the lake as it was before it, written to
disk before the run starts. Times are medians of `--repeats` runs; the results are also written
to bench/results.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from results import write_section
from runs import mrs


def history_and_one_day(root: Path, history_days: int, args) -> tuple[list[float], list[float]]:
    """(one-day run seconds, full replay seconds) after `history_days` days."""
    world = root / f"world_{history_days}"
    home = root / f"home_{history_days}"
    home.mkdir()
    mrs("generate", "--data-dir", str(world), "--stores", str(args.stores), "--skus", str(args.skus),
        "--days", str(history_days + 1), "--seed", str(args.seed), home=home)
    full = root / f"full_{history_days}"
    shutil.copytree(world, full, ignore=shutil.ignore_patterns("lake"))
    landing = world / "landing" / "sales"
    last_day = max(path.stem.rsplit("_", 1)[1] for path in landing.iterdir())
    held = root / f"held_{history_days}"
    held.mkdir()
    for path in landing.glob(f"*_{last_day}.*"):
        shutil.move(path, held / path.name)
    mrs("run", "--data-dir", str(world), home=home)
    before = root / f"lake_before_{history_days}"
    shutil.copytree(world / "lake", before)
    for path in held.iterdir():
        shutil.move(path, landing / path.name)
    one_day = []
    for _ in range(args.repeats):
        shutil.rmtree(world / "lake")
        shutil.copytree(before, world / "lake")
        os.sync()  # the copy written out first, not while the run is timed
        one_day.append(mrs("run", "--data-dir", str(world), home=home).seconds)
    replays = []
    for _ in range(args.repeats):
        shutil.rmtree(full / "lake", ignore_errors=True)
        replays.append(mrs("run", "--data-dir", str(full), home=home).seconds)
    return one_day, replays


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--stores", type=int, default=12)
    p.add_argument("--skus", type=int, default=40)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--histories", type=int, nargs="+", default=[10, 30, 90])
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="mrs_bench_incremental_") as root:
        for days in args.histories:
            one_day, replays = history_and_one_day(Path(root), days, args)
            rows.append({"history (days)": days, "one more day: mrs run (s, median)": np.median(one_day),
                         "full replay of all days (s, median)": np.median(replays),
                         "one day / full replay": np.median(one_day) / np.median(replays)})
            print(rows[-1], flush=True)
    result = pd.DataFrame(rows)
    result["one day vs the shortest history"] = result.iloc[:, 1] / result.iloc[0, 1]
    text = (f"world: {args.stores} stores x {args.skus} SKUs (seed {args.seed}); each time is the median of "
            f"{args.repeats} `mrs run` processes, wall-clock\n\n" + result.to_markdown(index=False, floatfmt=(".0f", *[",.2f"] * 4)))
    print(text)
    write_section("One more day after N days of history (bench/bench_incremental.py)", text)


if __name__ == "__main__":
    main()
