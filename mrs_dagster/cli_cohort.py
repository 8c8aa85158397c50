"""`mrs cohort ...`: create and list cohorts, static cohort progress, assigning a cohort's open
events to analysts, and assignment jobs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from mrs_dagster.cli import UsageError, _data_dir, dagster_instance
from mrs_dagster.cohort_assignments import job_state, now, open_events, plan, queue_job
from mrs_dagster.cohort_assignments import assign as assign_events
from mrs_dagster.cohort_resources import CohortSpecs, LakeCatalogBundleLoader, default_cohorts_dir
from mrs_dagster.cohorts.assignment import SYNC_LIMIT, AssignmentRefused
from mrs_dagster.cohorts.fields import entity_table
from mrs_dagster.cohorts.membership import cohort_progress, current_members
from mrs_dagster.cohorts.membership_builder import DDError
from mrs_dagster.cohorts.rules import evaluate
from mrs_dagster.cohorts.specs import SpecError
from mrs_dagster.contracts import ASSIGNMENT_STRATEGIES
from mrs_dagster.resources import MRSConfig


def _context(args) -> tuple[MRSConfig, CohortSpecs]:
    data_dir = _data_dir(args)
    cohorts_dir = Path(args.cohorts_dir or default_cohorts_dir()).resolve()
    return MRSConfig(data_dir=str(data_dir), run_id=args.run_id), CohortSpecs(cohorts_dir=str(cohorts_dir))


def evaluate_cohort(mrs: MRSConfig, specs: CohortSpecs, cohort_id: str) -> dict:
    """Materialize the cohort's `cohort_membership` partition in the persistent Dagster instance;
    returns the materialization's metadata. Raises UsageError with the builder's error."""
    from mrs_dagster.assets.cohorts import COHORT_PARTITIONS
    from mrs_dagster.definitions import COHORT_JOB, build_definitions

    instance = dagster_instance()
    instance.add_dynamic_partitions(COHORT_PARTITIONS.name, [cohort_id])
    job = build_definitions(mrs.data_dir, mrs.run_id, cohorts_dir=specs.cohorts_dir).resolve_job_def(COHORT_JOB)
    quiet = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
    result = job.execute_in_process(partition_key=cohort_id, instance=instance, run_config=quiet, raise_on_error=False)
    if not result.success:
        failures = [e.step_failure_data.error.message.strip() for e in result.get_step_failure_events()]
        raise UsageError(f"{cohort_id} could not be evaluated: {' '.join(failures) or 'the run failed'}")
    (event,) = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.event_specific_data.materialization.metadata.items()}


def evaluate_cohorts(data_dir: Path, run_id: str | None) -> None:
    """Evaluate every cohort spec of the default cohorts folder (what `mrs demo` shows)."""
    mrs, specs = MRSConfig(data_dir=str(data_dir), run_id=run_id), CohortSpecs(cohorts_dir=str(default_cohorts_dir()))
    for spec in specs.specs():
        metadata = evaluate_cohort(mrs, specs, spec.cohort_id)
        print(f"cohort {spec.cohort_id} ({spec.kind}, {spec.entity_scope}) {spec.name!r}: {metadata['rows']} member(s), "
              f"generation {metadata['generation']}")


def cmd_create(args) -> None:
    mrs, specs = _context(args)
    if args.file:
        try:
            document = yaml.safe_load(Path(args.file).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as error:
            raise UsageError(f"cannot read {args.file}: {error}") from None
    else:
        try:
            rules = json.loads(args.rules)
        except (TypeError, ValueError) as error:
            raise UsageError(f"--rules must be a JSON rule tree ({error})") from None
        document = {"name": args.name, "kind": args.kind, "description": args.description or "", "rules": rules}
    try:
        spec = specs.create(document)
    except SpecError as error:
        raise UsageError(f"cohort refused, nothing stored: {error}") from None
    print(f"created {spec.cohort_id} ({spec.kind}, {spec.entity_scope} scope) in {specs.cohorts_dir}")
    metadata = evaluate_cohort(mrs, specs, spec.cohort_id)
    print(f"{spec.cohort_id}: {metadata['rows']} member(s), generation {metadata['generation']}, "
          f"over {metadata['combo_count']} combos (catalog version {metadata['max_version']})")


def cmd_list(args) -> None:
    mrs, specs = _context(args)
    log = mrs.lake().read("cohort_membership_log", run_id=mrs.current_run_id())
    rows = []
    for spec in specs.specs():
        generation, members = current_members(log, spec.cohort_id)
        rows.append({"cohort_id": spec.cohort_id, "name": spec.name, "kind": spec.kind, "scope": spec.entity_scope,
                     "generation": generation, "members": len(members), "fields": ", ".join(sorted(spec.fields))})
    print(pd.DataFrame(rows).to_string(index=False) if rows else f"no cohorts in {specs.cohorts_dir}")


def cmd_progress(args) -> None:
    mrs, specs = _context(args)
    try:
        spec = specs.get(args.cohort_id)
        frames, _ = LakeCatalogBundleLoader(mrs=mrs).load_for_spec(spec)
    except DDError as error:
        raise UsageError(str(error)) from None
    if spec.kind != "static":
        raise UsageError(f"{spec.cohort_id} is dynamic: its members always match; progress is for static cohorts")
    generation, members = current_members(mrs.lake().read("cohort_membership_log", run_id=mrs.current_run_id()),
                                          spec.cohort_id)
    if generation == 0:
        raise UsageError(f"{spec.cohort_id} has not been evaluated yet (materialize its cohort_membership partition)")
    table = entity_table(spec.entity_scope, frames)
    matching = set(table.loc[evaluate(spec.rule, table), "member_id"])
    print(json.dumps({"cohort_id": spec.cohort_id, **cohort_progress(members, matching)}))


def cmd_assign(args) -> None:
    mrs, specs = _context(args)
    analyst_ids = [a.strip() for a in args.analysts.split(",") if a.strip()]
    try:
        events = open_events(mrs, specs, args.cohort_id)
        planned = plan(mrs, events, analyst_ids, args.strategy, now())  # validates the analysts first
    except (DDError, AssignmentRefused) as error:
        raise UsageError(f"nothing assigned: {error}") from None
    if len(events) >= SYNC_LIMIT:
        job_id = queue_job(mrs, args.cohort_id, analyst_ids, args.strategy, len(events))
        command = [sys.executable, "-c", "import sys; from mrs_dagster.cli import main; sys.exit(main(sys.argv[1:]))",
                   "cohort", "run-job", job_id, "--data-dir", mrs.data_dir, "--cohorts-dir", specs.cohorts_dir,
                   *(["--run-id", args.run_id] if args.run_id else [])]
        # The job records its own progress and failure; this log is for a process that dies before it can.
        log = mrs.lake().lake_dir / "cohort_jobs" / f"{job_id}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w") as out:
            subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        print(f"{job_id}: {len(events)} events queued for assignment (follow it with `mrs cohort job {job_id}`; "
              f"process log {log})")
        return
    assigned, failures = assign_events(mrs, args.cohort_id, planned.assignments, args.strategy, None, now())
    per_analyst = planned.assignments["analyst_id"].value_counts().sort_index().to_dict()
    print(json.dumps({"cohort_id": args.cohort_id, "assigned_count": assigned, "failed_count": len(failures),
                      "per_analyst": per_analyst, "unassigned": planned.unassigned, "failures": failures}))


def cmd_run_job(args) -> None:
    """Run a queued CAJ-N job as a Dagster run (what `mrs cohort assign` starts in the background)."""
    from mrs_dagster.assets.cohorts import ASSIGNMENT_JOB
    from mrs_dagster.definitions import build_definitions

    mrs, specs = _context(args)
    job = build_definitions(mrs.data_dir, mrs.run_id, cohorts_dir=specs.cohorts_dir).resolve_job_def(ASSIGNMENT_JOB)
    config = {"ops": {"assign_cohort_events": {"config": {"job_id": args.job_id}}}}
    result = job.execute_in_process(run_config=config, instance=dagster_instance(), raise_on_error=False)
    if not result.success:
        raise UsageError(f"job {args.job_id} failed (see `mrs cohort job {args.job_id}`)")


def cmd_job(args) -> None:
    mrs, _ = _context(args)
    state = job_state(mrs, args.job_id)
    if state is None:
        raise UsageError(f"no assignment job {args.job_id!r}")
    print(json.dumps({k: (v.isoformat() if isinstance(v, pd.Timestamp) else v) for k, v in state.items()}, default=str))


def add_cohort_commands(sub, with_data_dir) -> None:
    cohort = sub.add_parser("cohort", help="rule-based cohorts and assigning their events to analysts")
    commands = cohort.add_subparsers(dest="cohort_command", required=True)

    def command(name: str, func, help: str | None):
        sp = with_data_dir(commands.add_parser(name, help=help))
        sp.add_argument("--cohorts-dir", help="where cohort specs live (default: $MRS_COHORTS_DIR or data/cohorts)")
        sp.add_argument("--run-id", help="the run_id to work in (default: the current one)")
        sp.set_defaults(func=func)
        return sp

    c = command("create", cmd_create, "validate a spec, give it the next COH-N id, store it and evaluate it")
    c.add_argument("--file", help="a YAML spec (name, kind, description, rules)")
    c.add_argument("--name")
    c.add_argument("--kind", choices=["dynamic", "static"], default="dynamic")
    c.add_argument("--description")
    c.add_argument("--rules", help="the rule tree as JSON, when no --file")
    command("list", cmd_list, "the cohorts, their scope and current members")
    command("progress", cmd_progress, "a static cohort's members still matching its rules").add_argument("cohort_id")
    a = command("assign", cmd_assign, "assign a cohort's open events to analysts")
    a.add_argument("cohort_id")
    a.add_argument("--analysts", required=True, help="comma-separated analyst ids (active, in reference/analysts.csv)")
    a.add_argument("--strategy", choices=ASSIGNMENT_STRATEGIES, default="round_robin")
    command("job", cmd_job, "an assignment job's state").add_argument("job_id")
    command("run-job", cmd_run_job, None).add_argument("job_id")
