"""Running a job of the graph over store shards, as `mrs run` does on one machine: first the run
that feeds the shards, then one run per shard, then what needs every store. Shard runs go side by
side, `workers` at a time, each in a worker process of its own; the unpartitioned runs go in this
process, with progress per step.

Why worker processes and not Dagster's multiprocess executor: it starts a process per step (a
shard run is ~15 steps, each importing Dagster and pandas), which made the demo world's shards
slower than one unpartitioned run; and runs launched from threads of one process hung on the
instance. A deployment launches shard runs with its run launcher instead (README: scaling out)."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from dagster import AssetKey, DagsterInstance, JobDefinition, build_reconstructable_job
from dagster._core.definitions.reconstruct import ReconstructableJob
from dagster._core.execution.api import execute_run

from mrs_dagster.definitions import MAIN_JOB, build_definitions, pipeline_stages
from mrs_dagster.partitions import store_shard_count
from mrs_dagster.progress import StepProgress

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}},
         "execution": {"config": {"in_process": {}}}}


def pipeline_job(data_dir: str, run_id: str | None, store_shards: int, job_name: str) -> JobDefinition:
    """The job (rebuilt from these arguments in a shard's worker process)."""
    return build_definitions(data_dir, run_id, store_shards=store_shards).resolve_job_def(job_name)


def reconstructable_pipeline_job(job_args: tuple) -> ReconstructableJob:
    """`pipeline_job(*job_args)` as Dagster runs it; its definition is built once per process
    (`get_definition` keeps the last one)."""
    return build_reconstructable_job("mrs_dagster.launch", "pipeline_job", reconstructable_args=job_args)


@dataclass
class StagedRun:
    """What the runs of a staged job did: whether all succeeded, the rows each log appended, and
    the Dagster run ids in order."""

    success: bool = True
    appended: dict[str, int] = field(default_factory=dict)
    run_ids: list[str] = field(default_factory=list)

    def add(self, result: StagedRun) -> None:
        self.success &= result.success
        self.run_ids.extend(result.run_ids)
        for name, rows in result.appended.items():
            self.appended[name] = self.appended.get(name, 0) + rows


def rows_appended(result) -> dict[str, int]:
    """Rows each log appended in a Dagster run (the LakeIOManager's `rows_appended` metadata;
    hydrated views are replaced, not appended)."""
    materializations = [e.event_specific_data.materialization for e in result.get_asset_materialization_events()]
    return {m.asset_key.path[-1]: m.metadata["rows_appended"].value for m in materializations if "rows_appended" in m.metadata}


def run_staged(
    data_dir: Path, instance: DagsterInstance, run_id: str | None = None, job_name: str = MAIN_JOB,
    store_shards: int | None = None, workers: int | None = None, since: pd.Timestamp | None = None,
) -> StagedRun:
    """Run `job_name` over `data_dir` in stages (see the module), scoped to the ticks from `since`
    (None: all history; see `incremental`). `store_shards` defaults to MRS_STORE_SHARDS; `workers`
    (shard runs at a time) to the CPU count. Stops after a failed stage.

    Raises ValueError for an ephemeral instance: what it runs is recorded in the instance, and
    shard runs open it again from their worker processes."""
    if instance.is_ephemeral:
        raise ValueError("run_staged needs a persistent Dagster instance (DagsterInstance.get(), or "
                         "DagsterInstance.local_temp() in a test), not an ephemeral one")
    shards = store_shard_count() if store_shards is None else store_shards
    run_config = {**QUIET, "resources": {"scope": {"config": {"since": since.isoformat()}}}} if since is not None else QUIET
    job_args = (str(data_dir), run_id, shards, job_name)
    job = reconstructable_pipeline_job(job_args).get_definition()
    graph = job.asset_layer.asset_graph
    in_job = {key for key in graph.get_all_asset_keys() if graph.get(key).is_executable}
    stages = [(keys, partitions, len(job.get_subset(asset_selection=set(keys)).graph.node_dict))
              for selection, partitions in pipeline_stages(shards) if (keys := sorted(selection.resolve(graph) & in_job))]
    outcome = StagedRun()
    with StepProgress(f"{job_name} (assets and checks)", sum(n * len(p) for _, p, n in stages)) as progress:
        for keys, partitions, steps in stages:
            if partitions == [None]:
                outcome.add(execute(job_args, keys, run_config, instance, listener=progress.on_dagster_event))
            else:
                _run_shards((job_args, keys, run_config), partitions, instance, progress, outcome, steps,
                            workers or os.cpu_count() or 1)
            if not outcome.success:
                break
    return outcome


def _run_shards(shard_job: tuple, partitions: list[str], instance: DagsterInstance,
                progress: StepProgress, outcome: StagedRun, steps: int, workers: int) -> None:
    """The shard runs of `shard_job` (`run_shard`'s first arguments), `workers` at a time."""
    def finished(partition: str, shard_run: StagedRun) -> None:
        outcome.add(shard_run)
        progress.finish(f"store shard {partition}", "done" if shard_run.success else "FAILED", steps)

    for partition in partitions:
        progress.start(f"store shard {partition}")
    with ProcessPoolExecutor(min(workers, len(partitions)), mp_context=multiprocessing.get_context("spawn")) as pool:
        running = {pool.submit(run_shard, *shard_job, p, instance.get_ref()): p for p in partitions}
        for done in as_completed(running):
            finished(running[done], done.result())


def run_shard(job_args: tuple, keys: list[AssetKey], run_config: dict, partition: str, instance) -> StagedRun:
    """One store shard's run; `instance` is the instance or, in a worker process, its ref."""
    if not isinstance(instance, DagsterInstance):
        instance = DagsterInstance.from_ref(instance)
    return execute(job_args, keys, run_config, instance, tags={"dagster/partition": partition})


def execute(job_args: tuple, keys: list[AssetKey], run_config: dict, instance: DagsterInstance,
            tags: dict[str, str] | None = None, listener=None) -> StagedRun:
    """One Dagster run of `keys` (and their checks) of `pipeline_job(*job_args)` in this process;
    `listener` (an instance event listener) hears its events."""
    job = reconstructable_pipeline_job(job_args)
    dagster_run = instance.create_run_for_job(job.get_definition(), run_config=run_config, tags=tags,
                                              asset_selection=frozenset(keys), job_code_origin=job.get_python_origin())
    if listener is not None:
        instance.add_event_listener(dagster_run.run_id, listener)
    result = execute_run(job, dagster_run, instance)
    return StagedRun(result.success, rows_appended(result), [result.run_id])
