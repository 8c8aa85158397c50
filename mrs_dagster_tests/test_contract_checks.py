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


def run_main_job(data_dir):
    job = build_definitions(data_dir).resolve_job_def(MAIN_JOB)
    return job.execute_in_process(instance=DagsterInstance.ephemeral(), raise_on_error=False)


def check_results(result) -> dict[tuple[str, str], bool]:
    evaluations = [e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    return {(ev.asset_key.path[-1], ev.check_name): ev.passed for ev in evaluations}


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


def test_a_duplicated_key_fails_its_check_and_blocks_the_assets_downstream(world_dir):
    assert run_main_job(world_dir).success
    lake = Lake(world_dir / "lake")
    name = "minority_reports_detected_log"
    rows = lake.read(name).head(3)
    # Written around the lake's dedup, as a broken writer or a bad manual fix would.
    lake._table(name).append(pyarrow.Table.from_pandas(rows, schema=dataset(name).arrow_schema(), preserve_index=False))
    result = run_main_job(world_dir)
    results = check_results(result)
    assert results[(name, "idempotent_key_unique")] is False
    assert results[(name, "contract")] is True and results[(name, "required_columns_not_null")] is True
    materialized = {e.event_specific_data.materialization.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert name in materialized
    assert not materialized & {"minority_reports_cohorted_log", "minority_reports_clustered_log", "minority_reports"}
