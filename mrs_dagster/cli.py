"""`mrs`: generate a world, run the asset graph through Dagster, export datasets, evaluate."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

import pandas as pd

from mrs_dagster import incremental, memory
from mrs_dagster.contracts import DATASETS, DEAD_LETTER_TABLES, conform
from mrs_dagster.edits import EDIT_TARGETS, record_edit
from mrs_dagster.hydration import hydrate
from mrs_dagster.lake import Lake, UnknownDatasetError, dataset
from mrs_dagster.landing import read_truth
from mrs_dagster.resources import PROJECT_ROOT, MRSConfig, RunConfigError, default_data_dir
from mrs_dagster.stages.cohorting import cohort_reports, store_watermarks
from mrs_dagster.stages.detection import detect_minority_reports
from mrs_dagster.stages.evaluation import evaluate_events
from mrs_dagster.stages.hydrate import latest
from mrs_dagster.stages.ingest import current_sales_series, daily_summary
from mrs_dagster.stages.timestamps import as_utc
from mrs_dagster.progress import StepProgress
from mrs_dagster.synthetic import WARMUP_DAYS, WorldSpec, generate_world, write_steps, write_world


DEAD_LETTERS = ("unified_sales_data_errors", *sorted(DEAD_LETTER_TABLES))


class UsageError(Exception):
    """A bad argument or a missing input: reported in one line, exit code 2."""


def dagster_instance():
    """The persistent local instance: DAGSTER_HOME, or `.dagster_home` in the project, configured
    by the project's dagster.yaml (SQLite storage, telemetry off)."""
    from dagster import DagsterInstance  # imported here: only the commands that run Dagster pay for it

    home = Path(os.environ.get("DAGSTER_HOME") or PROJECT_ROOT / ".dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    return DagsterInstance.get()


def _data_dir(args, must_exist: bool = True) -> Path:
    path = Path(args.data_dir or default_data_dir()).resolve()
    if must_exist and not path.is_dir():
        raise UsageError(f"data dir {path} does not exist (create one with `mrs generate --data-dir {path}`)")
    return path


def cmd_generate(args) -> None:
    data_dir = _data_dir(args, must_exist=False)
    if data_dir.exists() and any(data_dir.iterdir()):
        if not (data_dir / "truth" / "anomalies.csv").is_file():
            raise UsageError(f"data dir {data_dir} is not empty and not a generated world: refusing to replace it")
        if not args.force:
            raise UsageError(f"data dir {data_dir} holds a generated world; pass --force to replace it")
        shutil.rmtree(data_dir)
    spec = WorldSpec(seed=args.seed, stores=args.stores, skus=args.skus, days=args.days, start=args.start)
    started = time.perf_counter()
    with StepProgress("generate", 1 + write_steps(spec)) as progress:
        with progress.step("world"):
            world = generate_world(spec)
        write_world(world, data_dir, progress)
    print(
        f"generated {spec.stores} stores x {spec.skus} SKUs x {spec.days} days (seed {spec.seed}) into {data_dir}: "
        f"{len(world.sales):,} sales rows, {len(world.truth)} truth anomalies "
        f"({time.perf_counter() - started:.1f} s)"
    )
    if world.truth.empty:
        print(f"note: no anomalies embedded: they start on day {WARMUP_DAYS + 1}, after the baseline's week of history")


def run_pipeline(
    data_dir: Path, run_id: str | None = None, job_name: str | None = None, full: bool = False,
) -> tuple[bool, dict[str, int]]:
    """Run `job_name` (default: every asset) over `data_dir` through Dagster, in the persistent
    instance, in stages over the store shards (`launch.run_staged`), with progress per step. Every
    asset runs incrementally, from the first tick of the deliveries not yet processed
    (`incremental`), unless `full`. An unpartitioned run touches the heap it will need ahead,
    on a thread (`memory.pretouch`), sized by the deliveries it processes.

    Returns whether the runs succeeded and the rows each log appended."""
    from mrs_dagster.definitions import MAIN_JOB  # see dagster_instance
    from mrs_dagster.launch import run_staged
    from mrs_dagster.partitions import store_shard_count

    if not (data_dir / "landing" / "sales").is_dir():
        raise UsageError(f"{data_dir} has no landing/sales/ folder: nothing to run on")
    job_name = job_name or MAIN_JOB
    mrs = MRSConfig(data_dir=str(data_dir), run_id=run_id)
    window = incremental.plan_run(data_dir, mrs.lake(), mrs.current_run_id(), full) if job_name == MAIN_JOB else None
    if window is not None:
        print(f"from {window.since.isoformat()} on (mrs run --full: all history)" if window.since is not None
              else "all history", file=sys.stderr)
        delivered = sum((data_dir / name).stat().st_size for name in window.new)
        try:
            heap, shards = memory.pretouch_bytes(delivered, memory.available_memory()), store_shard_count()
        except ValueError as error:
            raise UsageError(str(error)) from None
        # In store shards most steps run in worker processes, which need the memory this process
        # would hold: a touched heap is kept until the run ends.
        if shards == 0:
            memory.pretouch(heap)
    outcome = run_staged(data_dir, dagster_instance(), run_id, job_name, since=window.since if window else None)
    if window is not None and outcome.success:
        incremental.record_processed(mrs.lake(), mrs.current_run_id(), window.deliveries)
    return outcome.success, outcome.appended


def cmd_run(args) -> None:
    data_dir = _data_dir(args)
    started = time.perf_counter()
    ok, appended = run_pipeline(data_dir, args.run_id, full=args.full)
    elapsed = time.perf_counter() - started
    print_summary(data_dir, args.run_id, elapsed, appended)
    if not ok:
        raise SystemExit("the Dagster run failed; see the run's logs in the Dagster UI (make ui)")


def print_summary(data_dir: Path, run_id: str | None, elapsed: float, appended: dict[str, int]) -> None:
    mrs = MRSConfig(data_dir=str(data_dir), run_id=run_id)
    run_id = mrs.current_run_id()
    lake = mrs.lake()
    print(f"\nMRS run {run_id} over {data_dir} in {elapsed:.1f} s")
    print(f"  {'log':42s} {'rows':>10s} {'appended now':>13s}")
    for name in DATASETS:
        if name in DEAD_LETTER_TABLES:
            continue
        now = "replaced" if DATASETS[name].is_view else f"{appended.get(name, 0):,}"
        print(f"  {name:42s} {lake.count(name, run_id):>10,} {now:>13s}")
    dead = sum(lake.count(name, run_id) for name in DEAD_LETTERS)
    print(f"dead letters: {dead:,} (mrs errors)")
    events = lake.read("minority_events", run_id=run_id)
    print(f"events: {len(events)} ({(events['event_status'] == 'ended').sum()} ended)")
    top = lake.read("insights", run_id=run_id).sort_values("rank").head(5)
    if not top.empty:
        print("top findings by money at stake (insights):")
        for finding in top.itertuples():
            print(f"  {finding.rank}. [{finding.event_id}] {finding.finding}")
    print(f"outputs: lake {lake.lake_dir}; dashboard {lake.dashboard_dir / 'index.html'}; "
          f"Dagster home {os.environ.get('DAGSTER_HOME')} (browse with `make ui`)")


def cmd_demo(args) -> None:
    args.force, args.full = True, True  # a new world: all of its history
    args.detector = "logged"
    cmd_generate(args)
    cmd_run(args)
    from mrs_dagster.cli_cohort import evaluate_cohorts  # it builds on this module's helpers
    from mrs_dagster.definitions import INSIGHTS_JOB  # see dagster_instance

    data_dir = _data_dir(args)
    evaluate_cohorts(data_dir, args.run_id)
    if not run_pipeline(data_dir, args.run_id, INSIGHTS_JOB)[0]:  # segment trends by the cohorts just evaluated
        raise SystemExit("refreshing the insights failed; see the run's logs in the Dagster UI (make ui)")
    print(f"dashboard: {Lake(data_dir / 'lake').dashboard_dir / 'index.html'} (and the review console: mrs serve)")
    cmd_evaluate(args)


def cmd_export(args) -> None:
    try:
        dataset(args.name)
    except UnknownDatasetError as error:
        raise UsageError(str(error)) from None
    out = Path(args.out)
    if out.suffix not in (".csv", ".parquet"):
        raise UsageError(f"--out must end in .csv or .parquet, not {out.name!r}")
    data_dir = _data_dir(args)
    mrs = MRSConfig(data_dir=str(data_dir), run_id=args.run_id)
    frame = Lake(data_dir / "lake").read(args.name, as_of=args.as_of, run_id=mrs.current_run_id())
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False) if out.suffix == ".csv" else frame.to_parquet(out, index=False)
    print(f"wrote {len(frame):,} rows of {args.name} to {out}")


def cmd_errors(args) -> None:
    data_dir = _data_dir(args)
    run_id = MRSConfig(data_dir=str(data_dir), run_id=args.run_id).current_run_id()
    lake = Lake(data_dir / "lake")
    if args.name is None:
        counts = [(name, len(lake.read(name, run_id=run_id)) if lake.exists(name) else 0) for name in DEAD_LETTERS]
        print(pd.DataFrame(counts, columns=["dead letters", "rows"]).to_markdown(index=False))
        return
    name = args.name if args.name.endswith("_errors") else f"{args.name}_errors"
    if name not in DEAD_LETTERS:
        raise UsageError(f"no dead letters called {args.name!r}; one of: {', '.join(DEAD_LETTERS)}")
    rows = lake.read(name, run_id=run_id)
    print(f"{len(rows):,} dead letter(s) in {name} for run_id {run_id}")
    if len(rows):
        print(rows.head(args.limit).to_markdown(index=False))


def cmd_evaluate(args) -> None:
    data_dir = _data_dir(args)
    try:
        truth = read_truth(data_dir)
    except FileNotFoundError as error:
        raise UsageError(str(error)) from None
    mrs = MRSConfig(data_dir=str(data_dir), run_id=args.run_id)
    lake = Lake(data_dir / "lake")
    run_id = mrs.current_run_id()
    if args.detector == "heuristic":
        series = current_sales_series(lake.read("sales_timeseries_data", run_id=run_id))
        reports = detect_minority_reports(series, None, None, run_id)
        events = latest(cohort_reports(reports, store_watermarks(daily_summary(series)), run_id).events, "event_id")
    else:
        _, events = hydrate(lake, run_id)
    scores = evaluate_events(events, truth)
    which = "the degraded heuristic alone (recomputed, nothing written)" if args.detector == "heuristic" else "the hydrated events"
    print(f"\nevent-level evaluation of {which} against truth/anomalies.csv (windows widened by 30 min):")
    print(scores.to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep="n/a"))


def cmd_hydrate(args) -> None:
    out = Path(args.out)
    if out.suffix not in (".csv", ".parquet"):
        raise UsageError(f"--out must end in .csv or .parquet, not {out.name!r}")
    data_dir = _data_dir(args)
    run_id = MRSConfig(data_dir=str(data_dir), run_id=args.run_id).current_run_id()
    reports, events = hydrate(Lake(data_dir / "lake"), run_id, args.as_of)
    frame = conform(DATASETS[args.dataset], reports if args.dataset == "minority_reports" else events)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False) if out.suffix == ".csv" else frame.to_parquet(out, index=False)
    print(f"wrote {len(frame):,} rows of {args.dataset} as of {args.as_of or 'now'} to {out}")


def cmd_edit(args) -> None:
    data_dir = _data_dir(args)
    run_id = MRSConfig(data_dir=str(data_dir), run_id=args.run_id).current_run_id()
    try:
        row = record_edit(data_dir, run_id, args.kind, args.id, args.analyst, args.verdict, args.cause, args.note)
    except ValueError as error:
        raise UsageError(f"edit refused, nothing written: {error}") from None
    print(f"recorded edit {row['edit_id'].iat[0]} of {args.kind} {args.id} by {args.analyst} in {EDIT_TARGETS[args.kind][0]}")


def cmd_serve(args) -> None:
    import uvicorn  # only `mrs serve` pays for the web stack

    from mrs_dagster.serve import create_app

    data_dir = _data_dir(args)
    app = create_app(data_dir, args.run_id)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: serving on {args.host}: the review console has no login; anyone who can reach it can edit",
              file=sys.stderr)
    print(f"MRS dashboard and review console on http://{args.host}:{args.port}/ (Ctrl-C stops it)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mrs", description="MRS, the Minority Report System.")
    sub = p.add_subparsers(dest="command", required=True)

    def with_data_dir(sp):
        sp.add_argument("--data-dir", help="data dir (default: $MRS_DATA_DIR or data/demo)")
        return sp

    def with_world(sp):
        sp.add_argument("--seed", type=int, default=WorldSpec.seed)
        sp.add_argument("--stores", type=_positive, default=WorldSpec.stores)
        sp.add_argument("--skus", type=_positive, default=WorldSpec.skus)
        sp.add_argument("--days", type=_positive, default=WorldSpec.days)
        sp.add_argument("--start", type=_date, default=WorldSpec.start, help="first day, YYYY-MM-DD")
        return sp

    g = with_world(with_data_dir(sub.add_parser("generate", help="generate a synthetic retail world")))
    g.add_argument("--force", action="store_true", help="replace a non-empty data dir")
    g.set_defaults(func=cmd_generate)
    r = with_data_dir(sub.add_parser("run", help="materialize every asset through Dagster"))
    r.add_argument("--run-id", help="override the run_id of demo_run_config")
    r.add_argument("--full", action="store_true", help="recompute all history, not only from the deliveries "
                   "landed since the last successful run")
    r.set_defaults(func=cmd_run)
    d = with_world(with_data_dir(sub.add_parser("demo", help="generate a world, run it, evaluate it")))
    d.add_argument("--run-id", help="override the run_id of demo_run_config")
    d.set_defaults(func=cmd_demo)
    e = with_data_dir(sub.add_parser("export", help="write a dataset to .csv or .parquet"))
    e.add_argument("name", help=f"one of: {', '.join(DATASETS)}")
    e.add_argument("--out", required=True)
    e.add_argument("--as-of", type=_timestamp, help="only rows with written_at <= this timestamp (naive = UTC)")
    e.add_argument("--run-id", help="rows of this run_id (default: the current one)")
    e.set_defaults(func=cmd_export)
    er = with_data_dir(sub.add_parser("errors", help="list the dead letters: counts, or one table's rows"))
    er.add_argument("name", nargs="?", help="a dead-letter table, or the dataset whose dead letters to show")
    er.add_argument("--limit", type=_positive, default=20, help="rows to show (default 20)")
    er.add_argument("--run-id", help="dead letters of this run_id (default: the current one)")
    er.set_defaults(func=cmd_errors)
    v = with_data_dir(sub.add_parser("evaluate", help="score events against truth/anomalies.csv"))
    v.add_argument("--run-id", help="events of this run_id (default: the current one)")
    v.add_argument("--detector", choices=["logged", "heuristic"], default="logged",
                   help="score the logged events, or what the degraded heuristic alone finds on the same series")
    v.set_defaults(func=cmd_evaluate)
    h = with_data_dir(sub.add_parser("hydrate", help="rebuild the current state (or the state as of a time)"))
    h.add_argument("--as-of", type=_timestamp, help="the state as of this written_at (naive = UTC); default: now")
    h.add_argument("--out", required=True, help="FILE.csv or FILE.parquet")
    h.add_argument("--dataset", choices=["minority_reports", "minority_events"], default="minority_events")
    h.add_argument("--run-id", help="hydrate this run_id (default: the current one)")
    h.set_defaults(func=cmd_hydrate)
    ed = with_data_dir(sub.add_parser("edit", help="record an analyst's verdict, cause or note"))
    ed.add_argument("kind", choices=sorted(EDIT_TARGETS))
    ed.add_argument("id", help="the report_id or event_id")
    ed.add_argument("--analyst", required=True, help="analyst_id from reference/analysts.csv (must be active)")
    ed.add_argument("--verdict", help="anomaly, expected, not_anomaly, new_trend or no_feedback")
    ed.add_argument("--cause", help="cause override: one of the cause taxonomy")
    ed.add_argument("--note")
    ed.add_argument("--run-id", help="edit within this run_id (default: the current one)")
    sv = with_data_dir(sub.add_parser("serve", help="serve the dashboard and the analysts' review console"))
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    sv.add_argument("--port", type=_port, default=8765, help="port (default 8765)")
    sv.add_argument("--run-id", help="review this run_id (default: the current one)")
    sv.set_defaults(func=cmd_serve)
    ed.set_defaults(func=cmd_edit)
    from mrs_dagster.cli_cohort import add_cohort_commands  # it builds on this module's helpers

    add_cohort_commands(sub, with_data_dir)
    return p


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text}")
    return value


def _port(text: str) -> int:
    value = _positive(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"not a port: {text}")
    return value


def _date(text: str) -> str:
    try:
        return pd.Timestamp(text).strftime("%Y-%m-%d")
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {text!r}") from None


def _timestamp(text: str) -> pd.Timestamp:
    try:
        return as_utc(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a timestamp: {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except (UsageError, RunConfigError) as error:
        print(f"mrs: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
