"""The whole asset graph through real Dagster runs: idempotence, incremental equals full, degrade."""

import shutil
from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetSelection, DagsterInstance, materialize

from mrs_dagster.assets.cohorts import COHORT_LOGS
from mrs_dagster.assets.review import EDITS_LOGS
from mrs_dagster.launch import rows_appended
from mrs_dagster.contracts import DATASETS, DEAD_LETTER_TABLES
from mrs_dagster.definitions import ASSETS, build_resources
from mrs_dagster.lake import Lake
from mrs_dagster.stages.evaluation import evaluate_events
from mrs_dagster.stages.hydrate import latest
from mrs_dagster.stages.timestamps import parse_timestamps
from mrs_dagster.synthetic import write_world
from mrs_dagster_tests.conftest import DERIVED_LOGS, materialize_all


def table(data_dir: Path, name: str) -> pd.DataFrame:
    frame = Lake(data_dir / "lake").read(name)
    return frame.sort_values(list(DATASETS[name].key)).reset_index(drop=True)


def test_whole_graph_materializes_and_finds_the_truth(world_dir, small_world):
    result = materialize_all(world_dir, selection=AssetSelection.all())
    counts = rows_appended(result)
    logs = {name for name, ds in DATASETS.items() if not ds.is_view} - {s.key.path[-1] for s in [*EDITS_LOGS, *COHORT_LOGS]}
    logs -= DEAD_LETTER_TABLES | {"alerts_log"}  # nothing broke the contract; no sensor ran
    assert set(counts) == logs
    for name in ["unified_sales_data", "sales_timeseries_data", "baseline_sales_model_prediction_log",
                 "anomaly_classifier_model_prediction_log", "minority_reports_detected_log", "minority_event_log"]:
        assert counts[name] > 0, name
    assert counts["unified_sales_data"] == len(small_world.sales)
    assert counts["unified_sales_data_errors"] == 0
    run_ids = {frame["run_id"].unique().tolist()[0] for name in DATASETS if not (frame := table(world_dir, name)).empty}
    assert run_ids == {"demo-run-001"}
    events = latest(table(world_dir, "minority_event_log"), "event_id")
    overall = evaluate_events(events, small_world.truth).set_index("cause").loc["overall"]
    assert overall["recall"] >= 0.9
    insights = table(world_dir, "insights").sort_values("rank")
    assert insights["rank"].tolist() == list(range(1, len(insights) + 1)) and insights["money_at_stake"].is_monotonic_decreasing
    assert len(insights) >= overall["truth"] * 0.9  # the embedded anomalies, found, ranked and told
    assert set(table(world_dir, "segment_trends")["dimension"]) == {"region", "category", "cause"}  # no cohorts yet
    assert (world_dir / "lake" / "dashboard" / "index.html").is_file()


@pytest.mark.world("tiny_world")  # see conftest.world_dir
def test_running_twice_appends_nothing(world_dir):
    materialize_all(world_dir)
    before = {name: table(world_dir, name) for name in DATASETS}
    counts = rows_appended(materialize_all(world_dir))
    assert set(counts.values()) == {0}
    for name, frame in before.items():
        pd.testing.assert_frame_equal(table(world_dir, name), frame)


def test_a_later_delivery_extends_and_closes_events_like_one_full_run(tmp_path, small_world):
    from mrs_dagster.synthetic import write_world

    full, incremental = tmp_path / "full", tmp_path / "incremental"
    write_world(small_world, full)
    write_world(small_world, incremental)
    last_day = sorted((incremental / "landing/sales").glob("*"))[-1].stem.split("_")[-1]
    held_back = tmp_path / "held_back"
    held_back.mkdir()
    for path in (incremental / "landing/sales").glob(f"*_{last_day}.*"):
        shutil.move(path, held_back / path.name)

    materialize_all(incremental)
    first_events = latest(table(incremental, "minority_event_log"), "event_id")
    for path in held_back.iterdir():
        shutil.move(path, incremental / "landing/sales" / path.name)
    materialize_all(incremental)
    materialize_all(full)

    for name in DERIVED_LOGS:
        pd.testing.assert_frame_equal(table(incremental, name), table(full, name), obj=name)
    final_events = latest(table(incremental, "minority_event_log"), "event_id").set_index("event_id")
    assert len(final_events) > len(first_events)
    still_open_after_first = first_events[first_events["event_status"] == "active"]["event_id"]
    assert (final_events.loc[still_open_after_first, "event_status"] == "ended").any()


def test_detection_degrades_when_the_model_logs_were_never_written(world_dir):
    materialize_all(
        world_dir,
        selection=["demo_run_config", "unified_sales_data", "unified_sales_data_errors", "sales_timeseries_data",
                   "minority_reports_detected_log"],
    )
    detected = table(world_dir, "minority_reports_detected_log")
    assert not detected.empty
    assert detected["is_degraded"].all() and (detected["detection_mode"] == "degraded_heuristic").all()


@pytest.mark.world("tiny_world")
def test_a_new_run_id_gives_a_clean_run_scoped_view(world_dir):
    materialize_all(world_dir)
    materialize_all(world_dir, run_id="rehearsal-2")
    lake = Lake(world_dir / "lake")
    first = lake.read("minority_event_log", run_id="demo-run-001")
    second = lake.read("minority_event_log", run_id="rehearsal-2")
    assert len(first) == len(second) > 0
    pd.testing.assert_frame_equal(
        first.drop(columns="run_id").sort_values(["event_id", "written_at"]).reset_index(drop=True),
        second.drop(columns="run_id").sort_values(["event_id", "written_at"]).reset_index(drop=True),
    )


def test_bad_landed_rows_are_dead_lettered_and_valid_rows_kept(world_dir, small_world):
    bad = world_dir / "landing/sales/zz_bad.csv"
    bad.write_text(
        "retailer,store_id,sku,ts,units,sales_value\n"
        "waitrose,301,SKU0001,2026-03-05T10:00:00Z,2,3.0\n"
        "waitrose,301,SKU0001,yesterday,2,3.0\n"
    )
    (world_dir / "landing/sales/zz_garbage.parquet").write_bytes(b"not parquet")
    materialize_all(world_dir, selection=["demo_run_config", "unified_sales_data", "unified_sales_data_errors"])
    errors = table(world_dir, "unified_sales_data_errors")
    assert list(zip(errors["source_file"], errors["source_line"])) == [
        ("landing/sales/zz_bad.csv", 2), ("landing/sales/zz_garbage.parquet", 0)
    ]
    unified = table(world_dir, "unified_sales_data")
    assert len(unified) == len(small_world.sales) + 1


def test_ingesting_in_batches_of_one_delivery_writes_the_logs_of_one_batch(tiny_world, tmp_path):
    """`batch_rows: 1` makes every delivery its own batch (its own commits); a tick resent in a
    later delivery of the same feed_version takes the later's units either way."""
    one, batched = tmp_path / "one", tmp_path / "batched"
    for data_dir in (one, batched):
        write_world(tiny_world, data_dir)
        sales = data_dir / "landing" / "sales"
        first = sorted(sales.iterdir())[0]
        resent = pd.read_csv(first, dtype=str).head(3).assign(units="7")
        resent.loc[2, "units"] = "lots"
        resent.to_csv(sales / f"{first.stem}b.csv", index=False)
    materialize_all(one)
    materialize_all(batched, run_mode={"batch_rows": 1})
    deliveries = len(list((one / "landing" / "sales").iterdir()))
    batched_lake = Lake(batched / "lake")
    assert len(batched_lake.catalog.load_table(("mrs", "unified_sales_data")).snapshots()) == deliveries
    for name in ["unified_sales_data", "unified_sales_data_errors", "sales_daily_summary", *DERIVED_LOGS]:
        unbatched = table(one, name)
        assert len(unbatched), f"{name} is empty: nothing compared"
        pd.testing.assert_frame_equal(table(batched, name), unbatched, obj=name)
    series = table(batched, "sales_timeseries_data").set_index(["store_id", "sku", "ts"])["units"]
    resent_ticks = pd.MultiIndex.from_arrays([resent["store_id"], resent["sku"], parse_timestamps(resent["ts"])])
    assert series.loc[resent_ticks[:2]].tolist() == [7.0, 7.0]
    assert table(batched, "unified_sales_data_errors")["source_line"].tolist() == [3]


def test_a_data_dir_without_landing_fails_loudly(tmp_path):
    result = materialize(
        ASSETS,
        resources=build_resources(tmp_path),
        selection=["demo_run_config", "unified_sales_data", "unified_sales_data_errors"],
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert "landing/sales does not exist" in failure.message


def test_a_world_shorter_than_the_baseline_history_runs_and_detects_nothing(tmp_path):
    from mrs_dagster.synthetic import WARMUP_DAYS, WorldSpec, generate_world, write_world

    write_world(generate_world(WorldSpec(seed=5, stores=2, skus=6, days=WARMUP_DAYS)), tmp_path)
    counts = rows_appended(materialize_all(tmp_path))
    assert counts["unified_sales_data"] > 0
    assert counts["baseline_sales_model_prediction_log"] == 0
    assert counts["minority_reports_detected_log"] == 0
    assert counts["minority_event_log"] == 0
