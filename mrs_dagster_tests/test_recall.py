"""Event-driven recall (seed 001 §10), the fixed-cadence re-review (each re-evaluates only the
affected reports, and shows it in the logs) and the backfill rehearsal (seed 001 §9)."""

import pandas as pd
import pytest
from dagster import DagsterInstance, build_schedule_context, build_sensor_context, materialize

from mrs_dagster.cli import main
from mrs_dagster.launch import rows_appended
from mrs_dagster.contracts import DATASETS, DEAD_LETTER_TABLES
from mrs_dagster.definitions import ASSETS, MAIN_JOB, build_definitions, build_resources
from mrs_dagster.hydration import hydrate, newest_tick
from mrs_dagster.lake import Lake, dataset
from mrs_dagster.resources import DetectionModels
from mrs_dagster.sensors import RECALL_JOB, REPLAY_JOB
from mrs_dagster.stages.hydrate import latest
from mrs_dagster.stages.versions import recall_start

pytestmark = pytest.mark.world("tiny_world")  # see conftest.world_dir; two tests below need the small world

RUN = "demo-run-001"
MRPAL = "minority_reports_proposed_attribution_log"


def setup(world_dir):
    defs = build_definitions(world_dir)
    instance = DagsterInstance.ephemeral()
    assert defs.resolve_job_def(MAIN_JOB).execute_in_process(instance=instance).success
    return defs, instance, Lake(world_dir / "lake")


def evaluate(defs, instance, world_dir, name, cursor=None, models=None):
    resources = build_resources(world_dir, models=models)
    with build_sensor_context(instance=instance, resources=resources, cursor=cursor) as context:
        return defs.get_sensor_def(name).evaluate_tick(context)


def recall(defs, instance, requests):
    for request in requests:
        assert defs.resolve_job_def(RECALL_JOB).execute_in_process(run_config=request.run_config, instance=instance).success
    return sorted(r for request in requests for r in request.run_config["resources"]["scope"]["config"]["report_ids"])


def new_rows(lake, name, before):
    """The rows of log `name` that `before` did not have (by its idempotent key)."""
    after = lake.read(name)
    keys = [k for k in dataset(name).key if k != "run_id"]
    merged = after.merge(before[keys].assign(_old=True), on=keys, how="left")
    return after[merged["_old"].isna().to_numpy()]


@pytest.mark.world("small_world")  # its campaigns cover reports only the small world has
def test_a_campaign_landing_after_attribution_recalls_only_the_reports_it_covers(world_dir):
    defs, instance, lake = setup(world_dir)
    first = evaluate(defs, instance, world_dir, "evidence_recall_sensor")
    assert first.run_requests == []
    reports, _ = hydrate(lake, RUN)
    viral = reports[reports["cause"] == "viral_demand"].sort_values("first_detected_from").iloc[0]
    campaigns = pd.read_csv(world_dir / "reference" / "campaigns.csv", dtype=str, keep_default_na=False)
    late = {"campaign_id": "CMP-LATE", "kind": "influencer", "store_id": "", "region": "", "sku": viral["sku"],
            "category": "", "start": str(viral["window_start"] - pd.Timedelta("1h")),
            "end": str(viral["window_end"] + pd.Timedelta("1h"))}
    pd.concat([campaigns, pd.DataFrame([late])]).to_csv(world_dir / "reference" / "campaigns.csv", index=False)
    before = lake.read(MRPAL)

    tick = evaluate(defs, instance, world_dir, "evidence_recall_sensor", first.cursor)
    recalled = recall(defs, instance, tick.run_requests)
    assert viral["report_id"] in recalled
    covered = reports[(reports["sku"] == viral["sku"]) & (reports["window_end"] > viral["window_start"] - pd.Timedelta("1h"))
                      & (reports["window_start"] < viral["window_end"] + pd.Timedelta("1h"))]
    assert set(recalled) == set(covered["report_id"])
    restated = new_rows(lake, MRPAL, before)
    assert set(restated["report_id"]) <= set(recalled) and viral["report_id"] in set(restated["report_id"])
    assert (restated["written_at"] == newest_tick(lake, RUN)).all()
    assert set(restated["proposed_cause"]) == {"promotion"} and set(restated["campaign_id"]) == {"CMP-LATE"}
    now, _ = hydrate(lake, RUN)
    assert now.set_index("report_id").loc[viral["report_id"], "cause"] == "promotion"
    then, _ = hydrate(lake, RUN, as_of=newest_tick(lake, RUN) - pd.Timedelta(microseconds=1))
    assert then.set_index("report_id").loc[viral["report_id"], "cause"] == "viral_demand"
    assert evaluate(defs, instance, world_dir, "evidence_recall_sensor", tick.cursor).run_requests == []


PER_TICK_LOGS = ["baseline_sales_model_prediction_log", "anomaly_classifier_model_prediction_log",
                 "minority_reports_detected_log", "minority_reports_cohorted_log", "minority_event_log",
                 "minority_events_ended_log", "minority_reports_clustered_log", MRPAL]


def test_a_model_update_re_evaluates_the_recall_window_and_nothing_else(world_dir):
    defs, instance, lake = setup(world_dir)
    assert evaluate(defs, instance, world_dir, "model_recall_sensor").run_requests == []
    before = {name: lake.read(name) for name in PER_TICK_LOGS}
    reports_before, _ = hydrate(lake, RUN)
    retuned = DetectionModels(classifier_threshold=10.0, recall_days=2)
    retuned_defs = build_definitions(world_dir, models=retuned)

    tick = evaluate(retuned_defs, instance, world_dir, "model_recall_sensor", models=retuned)
    since = recall_start(newest_tick(lake, RUN), retuned.recall_days)
    stores = sorted(lake.read("sales_timeseries_data", columns=["store_id"])["store_id"].unique())
    assert [r.run_config["resources"]["scope"]["config"] for r in tick.run_requests] == [
        {"stores": stores, "since": since.isoformat()}]
    for request in tick.run_requests:
        assert retuned_defs.resolve_job_def(REPLAY_JOB).execute_in_process(
            run_config=request.run_config, instance=instance, tags=request.tags).success

    generations = lake.read("model_generations").sort_values("generation")
    assert generations["generation"].tolist() == [1, 2] and generations["effective_from"].iloc[1] == since
    old_versions, new_versions = DetectionModels().versions(), retuned.versions()
    assert generations["classifier_model_version"].tolist() == [old_versions[1], new_versions[1]] != [old_versions[1]] * 2
    for name in PER_TICK_LOGS:
        added = new_rows(lake, name, before[name])
        assert len(lake.read(name)) == len(before[name]) + len(added), f"{name}: an earlier row is gone"
        assert (added["written_at"] >= since).all(), f"{name}: re-evaluated a tick before the recall window"
        assert len(added) > 0, name
        if name == "anomaly_classifier_model_prediction_log":
            assert set(added["model_version"]) == {new_versions[1]}

    reports, events = hydrate(lake, RUN)
    earlier = reports_before[reports_before["window_end"] < since].set_index("report_id").sort_index()
    pd.testing.assert_frame_equal(reports.set_index("report_id").loc[earlier.index], earlier)
    touched = reports[reports["correction_status"].notna()]
    assert (touched["window_end"] >= since).all()
    superseded = reports[reports["report_status"] == "superseded"]
    assert len(superseded) > 0 and (superseded["degraded_reasons"].str.contains("SUPERSEDED")).all()
    assert set(events.loc[events["event_id"].isin(superseded["event_id"]), "resolution_reason"]) >= {"model update"}

    assert evaluate(retuned_defs, instance, world_dir, "model_recall_sensor", models=retuned).run_requests == []
    full = retuned_defs.resolve_job_def(MAIN_JOB).execute_in_process(instance=instance)
    assert full.success and {name: n for name, n in rows_appended(full).items() if n} == {}


@pytest.mark.world("small_world")  # a cluster across stores, which the tiny world lacks
def test_a_cluster_split_recalls_the_attribution_of_exactly_its_reports(world_dir):
    defs, instance, lake = setup(world_dir)
    stores = pd.read_csv(world_dir / "reference" / "stores.csv", dtype=str, keep_default_na=False)
    clusters_before, attribution_before = lake.read("minority_reports_clustered_log"), lake.read(MRPAL)
    # Every store moves to a region of its own: region-wide clusters split.
    stores.assign(region="R-" + stores["store_id"]).to_csv(world_dir / "reference" / "stores.csv", index=False)
    assert materialize(ASSETS, resources=build_resources(world_dir), instance=instance,
                       selection=["minority_reports_clustered_log"]).success
    reclustered = new_rows(lake, "minority_reports_clustered_log", clusters_before)
    assert len(reclustered) > 0 and (reclustered["written_at"] == newest_tick(lake, RUN)).all()
    old = latest(clusters_before, "report_id").set_index("report_id")
    assert (old.loc[reclustered["report_id"], "cluster_label"] == "region_multi_store").all()

    tick = evaluate(defs, instance, world_dir, "cluster_recall_sensor")
    recalled = recall(defs, instance, tick.run_requests)
    assert recalled == sorted(reclustered["report_id"])
    assert set(new_rows(lake, MRPAL, attribution_before)["report_id"]) <= set(recalled)


def test_the_review_schedule_re_evaluates_unreviewed_low_confidence_reports(world_dir):
    defs, instance, lake = setup(world_dir)
    reports, _ = hydrate(lake, RUN)
    low = reports[reports["confidence_score"] < 0.5]
    assert len(low) >= 2
    reviewed = low["report_id"].iat[0]
    assert main(["edit", "report", reviewed, "--analyst", "AN-1", "--verdict", "expected", "--data-dir", str(world_dir)]) == 0
    assert defs.resolve_job_def(MAIN_JOB).execute_in_process(instance=instance).success
    schedule = defs.get_schedule_def("review_reports_scheduler")
    with build_schedule_context(instance=instance, resources=build_resources(world_dir),
                                scheduled_execution_time=pd.Timestamp("2026-03-12 06:00", tz="UTC").to_pydatetime()) as context:
        requests = schedule.evaluate_tick(context).run_requests
    recalled = recall(defs, instance, requests)
    assert set(low["report_id"]) - {reviewed} <= set(recalled) and reviewed not in recalled
    active = reports[(reports["event_status"] == "active") & (reports["written_at"] < newest_tick(lake, RUN) - pd.Timedelta("1D"))]
    assert set(recalled) == (set(low["report_id"]) | set(active["report_id"])) - {reviewed}


def test_backfill_rehearsal_replaying_an_old_run_id_is_identical_and_advancing_it_gives_clean_views(world_dir):
    def run_as(run_id: str):
        (world_dir / "demo_run_config.json").write_text(f'{{"run_id": "{run_id}"}}')
        job = build_definitions(world_dir).resolve_job_def(MAIN_JOB)
        result = job.execute_in_process(instance=DagsterInstance.ephemeral())
        assert result.success
        return rows_appended(result)

    logs = [name for name, ds in DATASETS.items() if not ds.is_view and name not in DEAD_LETTER_TABLES
            and name not in ("user_edits_log", "user_minority_events_edits_log", "alerts_log")]
    lake = Lake(world_dir / "lake")
    run_as("rehearsal-A")
    first = {name: lake.read(name, run_id="rehearsal-A") for name in logs}
    run_as("rehearsal-B")
    assert set(lake.read("minority_reports")["run_id"]) == {"rehearsal-B"}
    assert set(lake.read("minority_events")["run_id"]) == {"rehearsal-B"}
    assert set(lake.read("minority_reports_detected_log")["run_id"]) == {"rehearsal-A", "rehearsal-B"}

    appended = run_as("rehearsal-A")
    assert {name: n for name, n in appended.items() if n} == {}, "replaying an old run_id appended rows"
    for name in logs:
        again = lake.read(name, run_id="rehearsal-A")
        key = list(dataset(name).key)
        pd.testing.assert_frame_equal(
            again.sort_values(key, ignore_index=True), first[name].sort_values(key, ignore_index=True), obj=name
        )
    assert set(lake.read("minority_reports")["run_id"]) == {"rehearsal-A"}
