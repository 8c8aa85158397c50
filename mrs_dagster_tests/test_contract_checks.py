"""The blocking asset checks of every log, through the real job of the code location."""

import pyarrow
import pytest
from dagster import AssetCheckKey, AssetKey, DagsterInstance

from mrs_dagster.assets.cohorts import COHORT_LOGS
from mrs_dagster.assets.contract_checks import CHECKS
from mrs_dagster.assets.review import EDITS_LOGS
from mrs_dagster.contracts import DATASETS, DEAD_LETTER_TABLES
from mrs_dagster.definitions import MAIN_JOB, build_definitions
from mrs_dagster.lake import Lake, dataset

pytestmark = pytest.mark.world("tiny_world")  # see conftest.world_dir

LOGS = [name for name, ds in DATASETS.items() if not ds.is_view and name not in DEAD_LETTER_TABLES]


def run_main_job(data_dir, run_mode: dict | None = None):
    job = build_definitions(data_dir).resolve_job_def(MAIN_JOB)
    run_config = {"resources": {"run_mode": {"config": run_mode}}} if run_mode else None
    return job.execute_in_process(run_config=run_config, instance=DagsterInstance.ephemeral(), raise_on_error=False)


def check_evaluations(result) -> dict:
    evaluations = [e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    return {(ev.asset_key.path[-1], ev.check_name): ev for ev in evaluations}


def check_results(result) -> dict[tuple[str, str], bool]:
    return {key: ev.passed for key, ev in check_evaluations(result).items()}


def test_every_log_has_blocking_contract_key_and_null_checks_that_pass_on_a_healthy_run(world_dir):
    defs = build_definitions(world_dir)
    graph = defs.resolve_asset_graph()
    for name in LOGS:
        for check in CHECKS:
            spec = graph.get_check_spec(AssetCheckKey(AssetKey(name), check))
            assert spec.blocking, f"{name}.{check} must be blocking"
    result = run_main_job(world_dir)
    assert result.success
    results = check_results(result)
    written_elsewhere = {spec.key.path[-1] for spec in [*EDITS_LOGS, *COHORT_LOGS]} | {"alerts_log"}
    expected = {(name, check) for name in LOGS for check in CHECKS if name not in written_elsewhere}
    assert expected <= set(results)
    assert all(results[k] for k in expected), [k for k in expected if not results[k]]


def _append_around_the_dedup(lake: Lake, name: str, rows) -> None:
    """Write `rows` around the lake's dedup, as a broken writer or a bad manual fix would."""
    lake._table(name).append(pyarrow.Table.from_pandas(rows, schema=dataset(name).arrow_schema(), preserve_index=False))


def test_a_duplicated_key_fails_its_check_and_blocks_the_assets_downstream(world_dir):
    assert run_main_job(world_dir).success
    lake = Lake(world_dir / "lake")
    name = "minority_reports_detected_log"
    rows = lake.read(name).head(3)
    _append_around_the_dedup(lake, name, rows)
    result = run_main_job(world_dir)
    results = check_results(result)
    assert results[(name, "idempotent_key_unique")] is False
    assert results[(name, "contract")] is True and results[(name, "required_columns_not_null")] is True
    materialized = {e.event_specific_data.materialization.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert name in materialized
    assert not materialized & {"minority_reports_cohorted_log", "minority_reports_clustered_log", "minority_reports"}


def test_a_log_written_by_tick_is_checked_in_spans_of_ticks_that_a_key_never_straddles(world_dir):
    assert run_main_job(world_dir).success
    lake = Lake(world_dir / "lake")
    name = "baseline_sales_model_prediction_log"
    stored = lake.read(name)
    last_tick = stored[stored["ts"] == stored["ts"].max()]
    # The last tick's rows again: a file of their own, starting at that tick.
    _append_around_the_dedup(lake, name, last_tick)

    checked = check_evaluations(run_main_job(world_dir, {"batch_rows": 1}))

    assert checked[(name, "contract")].metadata["read_in_parts"].value == 2
    assert checked[(name, "contract")].metadata["rows"].value == len(stored) + len(last_tick)
    assert checked[(name, "idempotent_key_unique")].metadata["duplicate_rows"].value == len(last_tick)


def _rows_checked(evaluations) -> dict:
    return {key[0]: ev.metadata["rows"].value for key, ev in evaluations.items() if key[1] == "contract"}


def test_checks_read_a_batch_of_stores_at_a_time_and_still_find_a_key_two_batches_share(world_dir):
    whole = check_evaluations(run_main_job(world_dir))
    batched = check_evaluations(run_main_job(world_dir, {"batch_rows": 1}))
    assert all(ev.passed for ev in batched.values() if ev.check_name in CHECKS)
    assert _rows_checked(batched) == _rows_checked(whole) and _rows_checked(batched)["sales_timeseries_data"] > 0
    name = "combo_catalog"  # every row has a store; its key (combo_id, run_id) has none
    assert batched[(name, "contract")].metadata["read_in_parts"].value > 1
    lake = Lake(world_dir / "lake")
    stores = sorted(lake.distinct(name, "store_id"))
    batches = lake.store_batches(name, 1)
    assert len(batches) == len(stores) > 1
    combo = lake.read(name).head(1)
    other = next(s for s in stores if not next(b for b in batches if b.holds(combo["store_id"].iat[0])).holds(s))
    _append_around_the_dedup(lake, name, combo.assign(store_id=other))  # its key now in two batches

    broken = check_evaluations(run_main_job(world_dir, {"batch_rows": 1}))

    assert broken[(name, "idempotent_key_unique")].passed is False
    assert broken[(name, "contract")].passed is True
    assert _rows_checked(broken)[name] == _rows_checked(whole)[name] + 1


def test_a_log_written_by_delivery_is_checked_in_batches_of_whole_deliveries(world_dir):
    """A batch reads only its deliveries' files, and no key (source_file, source_line, run_id) spans two."""
    whole = check_evaluations(run_main_job(world_dir))
    lake = Lake(world_dir / "lake")
    name = "unified_sales_data"
    deliveries = lake.distinct(name, "source_file")
    batched = check_evaluations(run_main_job(world_dir, {"batch_rows": 1}))
    assert batched[(name, "contract")].metadata["read_in_parts"].value == len(deliveries) > 1
    assert batched[(name, "idempotent_key_unique")].passed is True
    _append_around_the_dedup(lake, name, lake.read(name).tail(1))

    broken = check_evaluations(run_main_job(world_dir, {"batch_rows": 1}))

    assert broken[(name, "idempotent_key_unique")].metadata["duplicate_rows"].value == 1
    assert _rows_checked(broken)[name] == _rows_checked(whole)[name] + 1
