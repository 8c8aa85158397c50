"""Incremental runs (issue 7): `mrs run` after one more day computes that day only, and writes the
logs a full replay writes."""

import shutil
from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance, build_sensor_context

from mrs_dagster.cli import main
from mrs_dagster.definitions import MAIN_JOB, build_definitions, build_resources
from mrs_dagster.contracts import DATASETS
from mrs_dagster.incremental import (
    PROCESSED_DELIVERIES,
    delivery_cover,
    landed_deliveries,
    plan_run,
    processed_deliveries,
)
from mrs_dagster.lake import Lake
from mrs_dagster.resources import DetectionModels, ReplayScope
from mrs_dagster.stages.shards import by_shard
from mrs_dagster.stages.baseline import BASELINE_LOOKBACK_DAYS
from mrs_dagster.synthetic import write_world

# The one row that depends on when a run happened, not on the data: the model generation records
# the newest tick at its registration (the first run's).
REGISTRATION = {"model_generations"}


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns), ignore_index=True) if len(frame) else frame


def _hold_back_last_day(data_dir: Path, held: Path) -> list[Path]:
    last = max(path.stem.rsplit("_", 1)[1] for path in (data_dir / "landing" / "sales").iterdir())
    held.mkdir()
    moved = []
    for path in (data_dir / "landing" / "sales").glob(f"*_{last}.*"):
        moved.append(held / path.name)
        shutil.move(path, moved[-1])
    return moved


def test_one_more_day_computes_that_day_writes_what_a_full_replay_writes_and_plans_the_next(tiny_world, tmp_path, monkeypatch, capsys):
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    incremental, full = tmp_path / "incremental", tmp_path / "full"
    write_world(tiny_world, incremental)
    write_world(tiny_world, full)
    new_day = _hold_back_last_day(incremental, tmp_path / "held")
    assert main(["run", "--data-dir", str(incremental)]) == 0
    assert "all history" in capsys.readouterr().err
    lake = Lake(incremental / "lake")
    assert len(processed_deliveries(lake, "demo-run-001")) == len(list((incremental / "landing" / "sales").iterdir()))

    for path in new_day:
        shutil.move(path, incremental / "landing" / "sales" / path.name)
    window = plan_run(incremental, lake, "demo-run-001")
    assert window.since.normalize() == pd.Timestamp(tiny_world.spec.start, tz="UTC") + pd.Timedelta(days=8)

    # From the daemon: the sensor asks for the run `mrs run` would make, once.
    defs = build_definitions(incremental)
    sensor = defs.get_sensor_def("new_delivery_sensor")
    with DagsterInstance.get() as instance:
        def evaluate(cursor=None):
            resources = build_resources(incremental)
            with build_sensor_context(instance=instance, resources=resources, cursor=cursor) as context:
                return sensor.evaluate_tick(context)

        def latest(name: str) -> dict:
            metadata = instance.get_latest_materialization_event(AssetKey(name)).asset_materialization.metadata
            return {key: value.value for key, value in metadata.items()}

        tick = evaluate()
        [request] = tick.run_requests
        assert request.tags["mrs/deliveries"] == str(len(new_day))
        assert request.run_config == {"resources": {"scope": {"config": {"since": window.since.isoformat()}}}}
        assert evaluate(tick.cursor).run_requests == []
        assert defs.resolve_job_def(MAIN_JOB).execute_in_process(
            run_config=request.run_config, instance=instance, tags=request.tags).success

        # It read only the new deliveries and computed only the new day's predictions.
        assert latest("unified_sales_data")["files"] == len(new_day)
        baseline = latest("baseline_sales_model_prediction_log")
        assert 0 < baseline["rows_in_output"] == baseline["rows_appended"]
        predictions = lake.read("baseline_sales_model_prediction_log")["ts"]
        assert baseline["rows_in_output"] == (predictions >= window.since).sum() < len(predictions)

        # `mrs run` after it: the sensor's runs leave no record, so it covers the same window again
        # and appends nothing, every row being stored already; then it records the new day.
        assert main(["run", "--data-dir", str(incremental)]) == 0
        assert f"from {window.since.isoformat()} on" in capsys.readouterr().err
        assert latest("baseline_sales_model_prediction_log")["rows_appended"] == 0
        assert evaluate().run_requests == []

    assert main(["run", "--data-dir", str(full)]) == 0
    compared = 0
    for name in DATASETS:
        if name in REGISTRATION:
            continue
        after_one_more_day, replayed = Lake(incremental / "lake").read(name), Lake(full / "lake").read(name)
        if name == "health":  # the registration's tick shows in its row of the health view too
            after_one_more_day, replayed = (h[~h["dataset"].isin(REGISTRATION)] for h in (after_one_more_day, replayed))
        pd.testing.assert_frame_equal(_sorted(after_one_more_day), _sorted(replayed), obj=name, check_dtype=False)
        compared += len(replayed) > 0
    assert compared >= 15, "most logs must have rows to compare"

    newest = lake.read("sales_timeseries_data", columns=["ts"])["ts"].max()
    assert plan_run(incremental, lake, "demo-run-001").since == newest.floor("D")  # nothing new: the newest day
    assert plan_run(incremental, lake, "demo-run-001", full=True).since is None
    assert plan_run(incremental, lake, "another-run-id").since is None  # recorded per run_id
    (lake.lake_dir / PROCESSED_DELIVERIES).write_text("{not json")
    assert plan_run(incremental, lake, "demo-run-001").since is None


@pytest.mark.world("tiny_world")
def test_a_failed_run_records_nothing_so_the_next_covers_its_deliveries(world_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    for path in (world_dir / "landing" / "sales").iterdir():
        path.write_bytes(b"\x00 not a delivery")  # every row a dead letter: detection has no sales and fails
    with pytest.raises(SystemExit, match="the Dagster run failed"):
        main(["run", "--data-dir", str(world_dir)])
    lake = Lake(world_dir / "lake")
    assert not (lake.lake_dir / PROCESSED_DELIVERIES).exists()
    assert plan_run(world_dir, lake, "demo-run-001").since is None


def test_a_scoped_stage_reads_from_since_s_day_less_its_lookback():
    scope = ReplayScope(since="2026-03-10T14:35:00")
    assert scope.window(0) == pd.Timestamp("2026-03-10", tz="UTC")
    assert scope.window(BASELINE_LOOKBACK_DAYS) == pd.Timestamp("2026-02-10", tz="UTC")
    assert scope.window(None) is None and ReplayScope().window(7) is None


def test_a_baseline_history_past_the_lookback_is_refused():
    assert DetectionModels(baseline_history_days=BASELINE_LOOKBACK_DAYS).baseline_history_days == 28
    with pytest.raises(ValueError, match="at most the day-of-week history, 28"):
        DetectionModels(baseline_history_days=BASELINE_LOOKBACK_DAYS + 1)


@pytest.mark.world("tiny_world")
def test_the_new_delivery_sensor_requests_one_run_per_shard_of_the_delivered_stores_and_leaves_resends(world_dir):
    defs = build_definitions(world_dir, store_shards=3)
    sensor = defs.get_sensor_def("new_delivery_sensor")
    instance = DagsterInstance.ephemeral()

    def evaluate(cursor=None):
        with build_sensor_context(instance=instance, resources=build_resources(world_dir), cursor=cursor,
                                  repository_def=defs.get_repository_def()) as context:
            return sensor.evaluate_tick(context)

    delivered = [delivery_cover(path, name, "demo-run-001") for name, path in landed_deliveries(world_dir).items()]
    stores = sorted(set().union(*(cover.stores for cover in delivered)))
    first = min(cover.first_tick for cover in delivered if cover.first_tick is not None)
    tick = evaluate()
    assert sorted(r.partition_key for r in tick.run_requests) == sorted(s.key for s in by_shard(stores, 3))
    assert {r.run_config["resources"]["scope"]["config"]["since"] for r in tick.run_requests} == {first.isoformat()}

    for path in (world_dir / "corrections").glob("*.csv"):
        shutil.copy(path, world_dir / "landing" / "sales" / path.name)
    resent = evaluate(tick.cursor)
    assert resent.run_requests == [] and "only resends" in resent.skip_message
