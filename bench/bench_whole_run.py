"""`make bench`: the whole `mrs run` on 50 stores x 200 SKUs x 14 days (target: under 60 s and
8 GiB) and on 200 stores x 500 SKUs x 7 days in 8 store shards (time and memory; and whether any of
it grows faster than the data).

Each world is generated once (`mrs generate`, seed 7); each run is `mrs run` from an empty lake and
a fresh Dagster home, as its own process: wall-clock time and the process's peak resident memory.
Times are medians of `--repeats` runs; the results are also written to bench/results.md.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from results import write_section
from runs import mrs

from mrs_dagster.partitions import STORE_SHARDS_ENV

TARGET_SECONDS, TARGET_GIB = 60.0, 8.0
TARGET_WORLD = (50, 200, 14, 0)


def world_size(text: str) -> tuple[int, int, int, int]:
    """STORESxSKUSxDAYS, or STORESxSKUSxDAYS:SHARDS for a run in that many store shards."""
    size, _, shards = text.lower().partition(":")
    try:
        stores, skus, days = (int(part) for part in size.split("x"))
        return stores, skus, days, int(shards or 0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: a world is STORESxSKUSxDAYS[:SHARDS], e.g. 50x200x14 or 200x500x7:8") from None


def whole_runs(root: Path, world: tuple[int, int, int, int], repeats: int, seed: int) -> list:
    stores, skus, days, shards = world
    data_dir = root / f"world_{stores}x{skus}x{days}"
    mrs("generate", "--data-dir", str(data_dir), "--stores", str(stores), "--skus", str(skus), "--days", str(days),
        "--seed", str(seed), home=root)
    runs = []
    for attempt in range(repeats):
        shutil.rmtree(data_dir / "lake", ignore_errors=True)
        home = root / f"home_{stores}x{skus}x{days}_{attempt}"
        home.mkdir()
        runs.append(mrs("run", "--data-dir", str(data_dir), home=home, check=False,
                        env={STORE_SHARDS_ENV: str(shards)}))
        run = runs[-1]
        print(f"{stores} x {skus} x {days}" + (f" in {shards} store shards" if shards else "")
              + f": {run.seconds:.1f} s, {run.peak_gib:.2f} GiB"
              + (f", FAILED (exit {run.exit_code}):\n{run.error}" if run.exit_code else ""), flush=True)
        if run.exit_code:  # a failed run is reported as such; the next would fail alike
            break
    shutil.rmtree(data_dir)
    return runs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--worlds", type=world_size, nargs="+", default=[TARGET_WORLD, (200, 500, 7, 8)],
                   help="worlds as STORESxSKUSxDAYS[:SHARDS] (default: 50x200x14 200x500x7:8)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="mrs_bench_whole_run_") as root:
        for world in args.worlds:
            runs = whole_runs(Path(root), world, args.repeats, args.seed)
            failed = [r for r in runs if r.exit_code]
            seconds, gib = np.median([r.seconds for r in runs]), np.median([r.peak_gib for r in runs])
            stores, skus, days, shards = world
            rows.append({"world (stores x SKUs x days)": f"{stores} x {skus} x {days}", "store shards": shards,
                         "store-SKU-days": stores * skus * days, "runs": len(runs),
                         "outcome": f"failed, exit {failed[0].exit_code}" if failed else "done",
                         "mrs run (s, median)": seconds, "peak memory (GiB, median)": gib,
                         "time vs target": f"{seconds / TARGET_SECONDS:.2f}" if world == TARGET_WORLD else "",
                         "memory vs target": f"{gib / TARGET_GIB:.2f}" if world == TARGET_WORLD else ""})
    result = pd.DataFrame(rows)
    # Per store-SKU-day against the first world: above 1, something grows faster than the data.
    # A failed run's time and memory are up to its failure: no ratio is taken from them.
    per_unit = result[["mrs run (s, median)", "peak memory (GiB, median)"]].div(result["store-SKU-days"], axis=0)
    done = result["outcome"].eq("done")
    for column, unit in zip(("s per store-SKU-day vs first", "GiB per store-SKU-day vs first"), per_unit):
        ratio = per_unit[unit] / per_unit[unit].iloc[0]
        result[column] = [f"{r:.2f}" if ok else "" for r, ok in zip(ratio, done)]
    text = (f"seed {args.seed}; each run `mrs run` from an empty lake, its own process; medians of {args.repeats} runs; "
            f"target on {' x '.join(map(str, TARGET_WORLD[:3]))}: under {TARGET_SECONDS:.0f} s and {TARGET_GIB:.0f} GiB; "
            "a failed run's time and memory are up to its failure (exit -9: killed, most often for memory)\n\n"
            + result.to_markdown(index=False, floatfmt=("", ".0f", ",.0f", ".0f", "", ",.1f", ".2f", ".2f", ".2f", ".2f", ".2f")))
    print(text)
    write_section("The whole mrs run (bench/bench_whole_run.py)", text)


if __name__ == "__main__":
    main()
