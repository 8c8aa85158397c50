"""Operating MRS: SLO checks, fault injection of every non-critical input, dry run."""

import json

import pandas as pd
import pytest
import yaml
from dagster import (
    AssetCheckKey,
    AssetKey,
    AssetSelection,
    DagsterInstance,
    Definitions,
    define_asset_job,
    materialize,
)

from mrs_dagster.definitions import ASSETS, MAIN_JOB, build_definitions, build_resources
from mrs_dagster.lake import Lake
from mrs_dagster.landing import read_delivery
from mrs_dagster.resources import (
    DETECTION_POOL,
    DRY_RUN_NAMESPACE,
    NON_CRITICAL_INPUTS,
    PROJECT_ROOT,
    REFRESH_POOL,
    ReplayScope,
)
from mrs_dagster.stages.timestamps import parse_timestamps
from mrs_dagster.synthetic import write_world

pytestmark = pytest.mark.world("tiny_world")  # see conftest.world_dir

SLO_CHECKS = {
    ("unified_sales_data_errors", "error_rate"),
    ("minority_reports_proposed_attribution_log", "attribution_coverage"),
    ("minority_reports_detected_log", "detection_on_models"),
    ("minority_reports_finalised_log", "reports_not_degraded"),
    *((name, "data_lag") for name in (
        "baseline_sales_model_prediction_log", "anomaly_classifier_model_prediction_log",
        "minority_reports_detected_log", "minority_reports_clustered_log",
        "minority_reports_proposed_attribution_log", "minority_reports_finalised_log", "minority_reports_cohorted_log",
    )),
}
# What each dropped input must show: the check that flags it and, for consolidation, the reason.
FLAGGED_BY = {
    "stores": "MRPAL_down",
    "skus": "MRPAL_down",
    "campaigns": "MRPAL_down",
    "context_events": "MRPAL_down",
    "baseline_sales_model_prediction_log": None,
    "anomaly_classifier_model_prediction_log": None,
    "minority_reports_clustered_log": "MRCL_down",
    "minority_reports_proposed_attribution_log": "MRPAL_down",
    "minority_reports_cohorted_log": "MRCH_down",
    "minority_events_ended_log": "MEEL_down",
    "user_edits_log": "EDITS_down",
    "user_minority_events_edits_log": "EVENT_EDITS_down",
}


def run_job(data_dir, run_mode: dict | None = None):
    job = build_definitions(data_dir).resolve_job_def(MAIN_JOB)
    run_config = {"resources": {"run_mode": {"config": run_mode}}} if run_mode else None
    result = job.execute_in_process(run_config=run_config, instance=DagsterInstance.ephemeral())
    assert result.success
    evaluations = [e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    return {(ev.asset_key.path[-1], ev.check_name): ev for ev in evaluations}


def test_a_healthy_run_meets_every_slo(world_dir):
    checks = run_job(world_dir)
    assert SLO_CHECKS <= set(checks)
    assert {k for k in SLO_CHECKS if not checks[k].passed} == set()
    assert checks[("minority_reports_detected_log", "data_lag")].metadata["lag_minutes"].value == 0


DEGRADATION_CHECKS = [AssetCheckKey(AssetKey("minority_reports_detected_log"), "detection_on_models"),
                      AssetCheckKey(AssetKey("minority_reports_finalised_log"), "reports_not_degraded")]


def run_assets_and_degradation_checks(data_dir, run_mode: dict):
    """The graph up to finalisation with only the two checks that flag degradation (the walk runs it
    12 times)."""
    defs = build_definitions(data_dir)
    upstream = AssetSelection.assets("minority_reports_finalised_log").upstream().required_multi_asset_neighbors()
    selection = upstream.without_checks() | AssetSelection.checks(*DEGRADATION_CHECKS)
    walk = Definitions(assets=defs.assets, asset_checks=defs.asset_checks, resources=defs.resources,
                       jobs=[define_asset_job("fault_walk", selection=selection)])
    result = walk.resolve_job_def("fault_walk").execute_in_process(
        run_config={"resources": {"run_mode": {"config": run_mode}}}, instance=DagsterInstance.ephemeral()
    )
    assert result.success
    evaluations = [e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    return {(ev.asset_key.path[-1], ev.check_name): ev for ev in evaluations}


def test_fault_injection_walks_every_non_critical_input():
    assert set(FLAGGED_BY) == set(NON_CRITICAL_INPUTS)


@pytest.mark.parametrize("name", NON_CRITICAL_INPUTS)
def test_a_dropped_non_critical_input_degrades_the_run_and_is_flagged(tmp_path, tiny_world, name):
    write_world(tiny_world, tmp_path)
    checks = run_assets_and_degradation_checks(tmp_path, {"drop": [name]})
    reason = FLAGGED_BY[name]
    if reason is None:
        flagged = checks[("minority_reports_detected_log", "detection_on_models")]
        assert not flagged.passed and flagged.metadata["degraded_reports"].value > 0
    else:
        flagged = checks[("minority_reports_finalised_log", "reports_not_degraded")]
        assert not flagged.passed
        assert flagged.metadata["degraded_by_reason"].value.get(reason, 0) > 0, flagged.metadata


def test_an_unknown_input_to_drop_is_a_clear_error(world_dir):
    job = build_definitions(world_dir).resolve_job_def(MAIN_JOB)
    with pytest.raises(Exception, match="run_mode") as error:
        job.execute_in_process(
            run_config={"resources": {"run_mode": {"config": {"drop": ["weather_api"]}}}},
            instance=DagsterInstance.ephemeral(),
        )
    assert "weather_api not droppable; choose from stores" in str(error.value.__cause__)
    assert not Lake(world_dir / "lake").exists("unified_sales_data")


def test_a_dry_run_reads_1000_rows_per_input_and_writes_apart_from_the_real_logs(world_dir):
    run_job(world_dir, {"dry_run": True})
    real, dry = Lake(world_dir / "lake"), Lake(world_dir / "lake", namespace=DRY_RUN_NAMESPACE)
    assert not real.exists("unified_sales_data") and not real.exists("minority_reports_finalised_log")
    assert dry.exists("unified_sales_data") and dry.exists("sales_timeseries_data")
    files = len(list((world_dir / "landing" / "sales").glob("*")))
    assert len(dry.read("unified_sales_data")) <= 1000 * files
    assert len(dry.read("sales_timeseries_data")) <= 1000
    run_job(world_dir)
    assert len(real.read("sales_timeseries_data")) > 1000
    assert len(dry.read("sales_timeseries_data")) <= 1000


def silence(data_dir, store_id: str, start: str, end: str) -> pd.DataFrame:
    """Remove every row of a store in [start, end) from its deliveries (the feed went silent);
    returns the removed rows."""
    removed = []
    for path in sorted((data_dir / "landing" / "sales").iterdir()):
        rows = read_delivery(path)
        ts = parse_timestamps(rows["ts"])
        keep = ~((rows["store_id"].astype(str) == store_id) & (ts >= pd.Timestamp(start, tz="UTC")) & (ts < pd.Timestamp(end, tz="UTC")))
        if not keep.all():
            removed.append(rows[~keep.to_numpy()])
            rows[keep.to_numpy()].to_parquet(path) if path.suffix == ".parquet" else rows[keep.to_numpy()].to_csv(path, index=False)
    return pd.concat(removed)


def test_a_silent_store_is_a_data_gap_in_health_and_is_not_scored_as_zero_sales(world_dir):
    silence(world_dir, "301", "2026-03-10 12:00", "2026-03-10 15:00")
    checks = run_job(world_dir)
    lake = Lake(world_dir / "lake")
    gaps = lake.read("data_gaps")
    assert gaps[["store_id", "gap_start", "gap_end", "ticks"]].values.tolist() == [
        ["301", pd.Timestamp("2026-03-10 12:00", tz="UTC"), pd.Timestamp("2026-03-10 14:55", tz="UTC"), 36]
    ]
    assert not checks[("data_gaps", "no_data_gaps")].passed
    scored = lake.read("anomaly_classifier_model_prediction_log")
    in_gap = (scored["store_id"] == "301") & scored["ts"].between(gaps["gap_start"].iat[0], gaps["gap_end"].iat[0])
    assert not in_gap.any()
    reports = lake.read("minority_reports_detected_log")
    assert not ((reports["store_id"] == "301") & reports["written_at"].between(gaps["gap_start"].iat[0], gaps["gap_end"].iat[0])).any()

    health = lake.read("health").set_index("dataset")
    assert health.loc["minority_reports_detected_log", "rows"] == len(reports)
    assert health.loc["unified_sales_data", "dead_letters"] == len(lake.read("unified_sales_data_errors"))
    assert json.loads(health.loc["minority_reports_finalised_log", "rows_by_status"]) == {"proposed": len(lake.read("minority_reports_finalised_log"))}
    assert health.loc["minority_reports_finalised_log", "degraded_share"] == 0
    assert health.loc["minority_reports_proposed_attribution_log", "coverage"] >= 0.8
    assert health.loc["anomaly_classifier_model_prediction_log", "lag_minutes"] == 0
    assert health.loc["anomaly_classifier_model_prediction_log", "slo_met"]


INGEST = AssetSelection.assets("demo_run_config", "unified_sales_data", "unified_sales_data_errors")


def ingest_with_flaky_reads(data_dir, failures: int):
    return materialize(
        ASSETS, resources=build_resources(data_dir), instance=DagsterInstance.ephemeral(), selection=INGEST,
        run_config={"resources": {"run_mode": {"config": {"flaky_reads": failures}}}}, raise_on_error=False,
    )


def test_a_transient_read_failure_is_retried_with_backoff_and_succeeds(world_dir, tiny_world):
    result = ingest_with_flaky_reads(world_dir, failures=2)
    assert result.success
    retries = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert [e.step_key for e in retries] == ["unified_sales_data", "unified_sales_data"]
    lake = Lake(world_dir / "lake")
    assert len(lake.read("unified_sales_data")) == len(tiny_world.sales)
    assert lake.read("unified_sales_data_errors")["source_line"].ne(0).all()


def test_a_read_failure_that_outlasts_the_retries_fails_loudly_and_writes_nothing(world_dir):
    result = ingest_with_flaky_reads(world_dir, failures=4)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "injected transient read failure 4 of 4" in failure.event_specific_data.error.cause.message
    assert not Lake(world_dir / "lake").exists("unified_sales_data")


def test_replay_worklists_are_capped_by_configuration():
    scope = ReplayScope(max_stores=2)
    assert scope.worklists(["301", "302", "303", "304", "305"]) == [["301", "302"], ["303", "304"], ["305"]]
    with pytest.raises(ValueError, match="3 stores, more than max_stores=2"):
        ReplayScope(stores=["301", "302", "303"], max_stores=2)


def test_detection_and_refresh_run_in_separate_pools_limited_in_dagster_yaml(world_dir):
    graph = build_definitions(world_dir).resolve_asset_graph()
    pools = {key.path[-1]: set(graph.get(key).pools or ()) for key in graph.get_all_asset_keys()}
    assert {name for name, p in pools.items() if p == {DETECTION_POOL}} == {
        "baseline_sales_model_prediction_log", "anomaly_classifier_model_prediction_log", "minority_reports_detected_log"}
    assert {"minority_reports_cohorted_log", "minority_reports_clustered_log", "minority_reports_proposed_attribution_log",
            "minority_reports_finalised_log", "minority_reports", "health"} <= {n for n, p in pools.items() if p == {REFRESH_POOL}}
    config = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text())
    assert config["concurrency"]["pools"]["default_limit"] == 1
