"""Store-shard partitions (issue 7): a sharded run writes exactly the logs an unpartitioned run
writes, and a corrected resend replays only the shards of the stores it corrects."""

from pathlib import Path

import pandas as pd
import pytest
from dagster import DagsterInstance, build_sensor_context

from mrs_dagster.definitions import build_definitions, build_resources
from mrs_dagster.lake import Lake, dataset
from mrs_dagster.launch import run_staged
from mrs_dagster.partitions import SHARDED_LOGS, STORE_SHARDS_ENV
from mrs_dagster.sensors import REPLAY_JOB
from mrs_dagster.stages.shards import StoreShard, shard_number
from mrs_dagster.synthetic import write_world
from mrs_dagster_tests.conftest import DERIVED_LOGS
from mrs_dagster_tests.test_corrected_feed import land_corrections

SHARDS = 3
COMPARED = [*DERIVED_LOGS, "minority_reports_finalised_log", "minority_reports", "minority_events", "insights"]


def _sorted(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    key = list(dataset(name).key) or list(frame.columns)
    return frame.sort_values(key).reset_index(drop=True)


def test_a_sharded_run_writes_the_logs_an_unpartitioned_run_writes(tiny_world, tmp_path: Path):
    one, sharded = tmp_path / "one", tmp_path / "sharded"
    write_world(tiny_world, one)
    write_world(tiny_world, sharded)
    with DagsterInstance.local_temp() as instance:
        assert run_staged(one, instance, store_shards=0).success
    with DagsterInstance.local_temp() as instance:
        staged = run_staged(sharded, instance, store_shards=SHARDS, workers=2)
        assert staged.success
        assert len(staged.run_ids) == 2 + SHARDS
        partitions = {r.tags.get("dagster/partition") for r in instance.get_runs()}
    assert partitions == {None, *(shard.key for shard in StoreShard.all(SHARDS))}
    stores = sorted(tiny_world.stores["store_id"])
    assert len({shard_number(s, SHARDS) for s in stores}) > 1, "the world must span several shards"
    for name in COMPARED:
        unpartitioned, by_shard = Lake(one / "lake").read(name), Lake(sharded / "lake").read(name)
        assert len(unpartitioned), f"{name} is empty: nothing compared"
        pd.testing.assert_frame_equal(_sorted(by_shard, name), _sorted(unpartitioned, name), obj=name)


def test_a_staged_run_refuses_an_ephemeral_instance(tmp_path: Path):
    with pytest.raises(ValueError, match="persistent Dagster instance"):
        run_staged(tmp_path, DagsterInstance.ephemeral(), store_shards=0)


@pytest.mark.world("tiny_world")
def test_a_corrected_resend_replays_only_the_shards_of_its_stores(world_dir: Path, dagster_instance: DagsterInstance):
    instance = dagster_instance  # the sensor and the replay runs below share it with the staged run
    assert run_staged(world_dir, instance, store_shards=SHARDS).success
    defs = build_definitions(world_dir, store_shards=SHARDS)
    sensor = defs.get_sensor_def("corrected_feed_sensor")
    with build_sensor_context(instance=instance, resources=build_resources(world_dir), definitions=defs) as context:
        cursor = sensor.evaluate_tick(context).cursor
    resent = pd.concat(land_corrections(world_dir).values())
    with build_sensor_context(instance=instance, resources=build_resources(world_dir), cursor=cursor,
                              definitions=defs) as context:
        requests = sensor.evaluate_tick(context).run_requests
    touched = {StoreShard(shard_number(s, SHARDS), SHARDS).key for s in resent["store_id"].unique()}
    assert {r.partition_key for r in requests} == touched
    for request in requests:
        stores = request.run_config["resources"]["scope"]["config"]["stores"]
        assert all(StoreShard.parse(request.partition_key).holds(s) for s in stores)

    detected = "minority_reports_detected_log"
    before = Lake(world_dir / "lake").read(detected)
    replayed = set()
    job = defs.resolve_job_def(REPLAY_JOB)
    for request in requests:
        result = job.execute_in_process(run_config=request.run_config, instance=instance, tags=request.tags,
                                        partition_key=request.partition_key)
        assert result.success
        materialized = [e.event_specific_data.materialization for e in result.get_asset_materialization_events()]
        replayed |= {(m.asset_key.path[-1], m.partition) for m in materialized}
    assert {partition for name, partition in replayed if name in SHARDED_LOGS} == touched
    assert ("minority_reports_finalised_log", None) in replayed, "what needs every store reruns unpartitioned"
    after = Lake(world_dir / "lake").read(detected)
    untouched = ~after["store_id"].map(lambda s: StoreShard(shard_number(s, SHARDS), SHARDS).key).isin(touched)
    assert len(after[untouched]) == len(before[~before["store_id"].map(
        lambda s: StoreShard(shard_number(s, SHARDS), SHARDS).key).isin(touched)])


def test_a_shard_count_that_is_not_a_whole_number_is_refused(monkeypatch):
    monkeypatch.setenv(STORE_SHARDS_ENV, "four")
    with pytest.raises(ValueError, match="whole number"):
        build_definitions()
    monkeypatch.setenv(STORE_SHARDS_ENV, "2")
    assert build_definitions().resolve_job_def(REPLAY_JOB).partitions_def.get_partition_keys() == ["1-of-2", "2-of-2"]
