"""Cohorts through Dagster and the CLI, over real lakes and Dagster instances in temp dirs."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance, DagsterRunStatus, build_sensor_context, materialize

from mrs_dagster.assets.cohorts import COHORT_PARTITIONS, cohort_membership
from mrs_dagster.cli import main
from mrs_dagster.cohort_resources import CohortSpecs
from mrs_dagster.cohorts.assignment import assignment_rows
from mrs_dagster.cohorts.catalog import cohort_metrics, new_combos
from mrs_dagster.cohorts.membership import current_members
from mrs_dagster.contracts import MINORITY_EVENTS
from mrs_dagster.definitions import build_definitions, build_resources
from mrs_dagster.hydration import hydrate
from mrs_dagster.lake import Lake
from mrs_dagster.synthetic import write_world
from mrs_dagster_tests.conftest import materialize_all

RUN = "demo-run-001"
T0 = pd.Timestamp("2026-03-10 09:00", tz="UTC")
STORES = pd.DataFrame({"store_id": ["301", "302", "303", "304"], "retailer": "acme",
                       "region": ["north", "north", "south", "east"], "format": ["express", "superstore", "express", ""]})
SKUS = pd.DataFrame({"sku": ["A", "B", "C"], "category": ["produce", "dairy", "produce"], "brand": ["x", "y", "z"],
                     "unit_price": ["0.5", "2.0", "1.0"]})
ANALYSTS = pd.DataFrame({"analyst_id": ["AN-1", "AN-2", "AN-3", "AN-4"], "name": ["L", "P", "T", "A"],
                         "active": ["True", "True", "True", "False"], "daily_capacity": [60, 40, 20, 10]})


def write_reference(data_dir, stores=STORES, skus=SKUS):
    (data_dir / "reference").mkdir(parents=True, exist_ok=True)
    for name, frame in (("stores", stores), ("skus", skus), ("analysts", ANALYSTS)):
        frame.to_csv(data_dir / "reference" / f"{name}.csv", index=False)


def active_events(count: int) -> pd.DataFrame:
    """`count` active minority events spread over the stores, each on SKU A (and B for odd ones)."""
    i = pd.RangeIndex(count)
    events = {c: [None] * count for c in MINORITY_EVENTS.columns}
    events.update(event_id=[f"E{n:04d}" for n in i], store_id=STORES["store_id"].to_numpy()[i % 4],
                  first_detected_from=T0, window_start=T0, window_end=T0 + pd.Timedelta(hours=1), severity_score=0.5,
                  impact_estimate=(count - i).astype(float), baseline_sales_total=10.0, attributed_sales_total=5.0,
                  event_status="active", created_at=T0, is_degraded=False, degraded_reasons="",
                  skus=["A,B" if n % 2 else "A" for n in i], written_at=T0, run_id=RUN)
    return pd.DataFrame(events)


@pytest.fixture
def cohort_world(tmp_path, monkeypatch):
    """A data dir whose lake holds a small sales series, its combo catalog and metrics, and 8 active
    events; cohort specs in their own folder; a persistent Dagster home."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    data_dir = tmp_path / "data"
    write_reference(data_dir)
    lake = Lake(data_dir / "lake")
    combos = [(s, k) for s in STORES["store_id"] for k in SKUS["sku"]]
    series = pd.DataFrame([{"retailer": "acme", "store_id": s, "sku": k, "ts": T0 + pd.Timedelta(minutes=5 * j),
                            "units": float(j + len(s) + ord(k) % 5), "sales_value": 1.0, "feed_version": 1,
                            "written_at": T0 + pd.Timedelta(minutes=5 * j), "run_id": RUN}
                           for s, k in combos for j in range(3)])
    lake.append("sales_timeseries_data", series)
    write_world_state(lake, series, active_events(8))
    return data_dir, CohortSpecs(cohorts_dir=str(tmp_path / "cohorts")), lake


def write_world_state(lake: Lake, series: pd.DataFrame, events: pd.DataFrame):
    catalog = lake.read("combo_catalog", run_id=RUN)
    lake.append("combo_catalog", new_combos(catalog, series, RUN))
    lake.replace_view("minority_events", events)
    lake.replace_view("cohort_metrics", cohort_metrics(lake.read("combo_catalog"), series, events, RUN))


def cli(*args, data_dir, specs) -> int:
    return main(["cohort", *args, "--data-dir", str(data_dir), "--cohorts-dir", specs.cohorts_dir])


def members(lake, cohort_id) -> list[str]:
    return list(current_members(lake.read("cohort_membership_log"), cohort_id)[1]["member_id"])


def test_create_stores_the_next_coh_id_and_evaluates_it_in_dagster(cohort_world, capsys):
    data_dir, specs, lake = cohort_world
    assert cli("create", "--name", "North", "--rules", json.dumps(
        {"fact": "store.region", "operator": "equal", "value": "north"}), data_dir=data_dir, specs=specs) == 0
    assert "COH-1: 2 member(s), generation 1, over 12 combos (catalog version 1)" in capsys.readouterr().out
    assert specs.get("COH-1").entity_scope == "store" and members(lake, "COH-1") == ["301", "302"]
    instance = DagsterInstance.get()
    assert instance.get_dynamic_partitions(COHORT_PARTITIONS.name) == ["COH-1"]
    materialization = instance.get_latest_materialization_event(AssetKey("cohort_membership")).asset_materialization
    assert materialization.partition == "COH-1"
    assert {k: materialization.metadata[k].value for k in ("rows", "combo_count", "max_version", "generation")} == {
        "rows": 2, "combo_count": 12, "max_version": 1, "generation": 1}
    preview = materialization.metadata["preview"].value
    assert "member_id" in preview and "301" in preview and "302" in preview and "303" not in preview

    rules = {"all": [{"fact": "sku.category", "operator": "equal", "value": "produce"},
                     {"fact": "store.format", "operator": "exists", "value": True}]}
    (data_dir / "static.yaml").write_text(json.dumps({"name": "Produce series", "kind": "static", "rules": rules}))
    assert cli("create", "--file", str(data_dir / "static.yaml"), data_dir=data_dir, specs=specs) == 0
    assert "COH-2: 6 member(s)" in capsys.readouterr().out  # stores 301-303 x SKUs A, C; 304 has no format

    assert cli("create", "--name", "../../evil", "--rules", json.dumps(rules), data_dir=data_dir, specs=specs) == 2
    assert "without '/'" in capsys.readouterr().err and specs.ids() == ["COH-1", "COH-2"]


def test_progress_of_a_static_cohort_counts_the_members_that_diverged(cohort_world, capsys):
    data_dir, specs, lake = cohort_world
    rules = {"fact": "store.region", "operator": "equal", "value": "north"}
    assert cli("create", "--name", "North fix-list", "--kind", "static", "--rules", json.dumps(rules),
               data_dir=data_dir, specs=specs) == 0
    write_reference(data_dir, stores=STORES.assign(region=["north", "west", "north", "east"]))
    capsys.readouterr()
    assert cli("progress", "COH-1", data_dir=data_dir, specs=specs) == 0
    assert json.loads(capsys.readouterr().out) == {"cohort_id": "COH-1", "total": 2, "still_matching": 1,
                                                   "diverged": 1, "progress_percent": 50.0}
    assert members(lake, "COH-1") == ["301", "302"]  # frozen: 303 matching now does not join


@pytest.mark.parametrize("command", [["progress", "../../etc/passwd"], ["assign", "COH-1/../../x", "--analysts", "AN-1"],
                                     ["progress", "COH-7"], ["job", "CAJ-1; rm -rf /"]])
def test_bad_ids_are_refused_with_a_clear_error(cohort_world, capsys, command):
    data_dir, specs, _ = cohort_world
    assert cli(*command, data_dir=data_dir, specs=specs) == 2
    err = capsys.readouterr().err
    assert "is not of the form COH-<number>" in err or "no spec" in err or "no assignment job" in err


def test_inline_assignment_is_capacity_weighted_idempotent_and_refuses_bad_analysts(cohort_world, capsys):
    data_dir, specs, lake = cohort_world
    rules = {"fact": "store.region", "operator": "in", "value": ["north", "south"]}
    assert cli("create", "--name", "Three stores", "--rules", json.dumps(rules), data_dir=data_dir, specs=specs) == 0
    assert cli("assign", "COH-1", "--analysts", "AN-1,AN-9,AN-4", data_dir=data_dir, specs=specs) == 2
    assert "unknown analyst id(s): AN-9; inactive analyst id(s): AN-4" in capsys.readouterr().err
    assert lake.read("event_assignments_log").empty
    assert cli("assign", "COH-1", "--analysts", "AN-1,AN-2,AN-3", "--strategy", "capacity_weighted",
               data_dir=data_dir, specs=specs) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["assigned_count"] == 6 and out["per_analyst"] == {"AN-1": 3, "AN-2": 2, "AN-3": 1}  # 60/40/20 of 6
    assigned = lake.read("event_assignments_log")
    assert sorted(assigned["store_id"].unique()) == ["301", "302", "303"] and assigned["job_id"].isna().all()
    assert cli("assign", "COH-1", "--analysts", "AN-1", data_dir=data_dir, specs=specs) == 0
    assert json.loads(capsys.readouterr().out)["assigned_count"] == 0 and len(lake.read("event_assignments_log")) == 6


def _not_json(constant: str):
    raise ValueError(f"{constant} is not JSON")


def test_from_100_events_assignment_is_a_tracked_dagster_job(cohort_world, capsys):
    data_dir, specs, lake = cohort_world
    lake.replace_view("minority_events", active_events(150))
    assert cli("create", "--name", "All", "--rules", json.dumps({"fact": "store.store_id", "operator": "exists",
                                                                 "value": True}), data_dir=data_dir, specs=specs) == 0
    capsys.readouterr()
    assert cli("assign", "COH-1", "--analysts", "AN-1,AN-2", "--strategy", "capacity_weighted",
               data_dir=data_dir, specs=specs) == 0
    assert capsys.readouterr().out.startswith("CAJ-1: 150 events queued")
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        cli("job", "CAJ-1", data_dir=data_dir, specs=specs)
        state = json.loads(capsys.readouterr().out, parse_constant=_not_json)  # a NULL prints as null, not NaN
        if state["status"] in ("completed", "failed"):
            break
        time.sleep(1)
    assert {k: state[k] for k in ("status", "total", "processed", "assigned_count", "failed_count", "unassigned_count")} == {
        "status": "completed", "total": 150, "processed": 100, "assigned_count": 100, "failed_count": 0,
        "unassigned_count": 50}  # capacity 60 + 40 today
    progress = lake.read("cohort_assignment_jobs_log").query("status == 'running'")["processed"].tolist()
    assert sorted(progress) == [0, *range(10, 101, 10)]
    run = DagsterInstance.get().get_run_by_id(state["dagster_run_id"])
    assert run.status == DagsterRunStatus.SUCCESS and run.job_name == "mrs_cohort_assignment"
    assigned = lake.read("event_assignments_log")
    assert assigned.groupby("analyst_id").size().to_dict() == {"AN-1": 60, "AN-2": 40} and set(assigned["job_id"]) == {"CAJ-1"}


def test_the_sensor_re_evaluates_only_the_dynamic_cohorts_whose_fields_changed(cohort_world):
    data_dir, specs, lake = cohort_world
    for name, kind, rules in (
        ("by region", "dynamic", {"fact": "store.region", "operator": "equal", "value": "north"}),
        ("by category", "dynamic", {"fact": "sku.category", "operator": "equal", "value": "dairy"}),
        ("static region", "static", {"fact": "store.region", "operator": "equal", "value": "north"}),
        ("series by brand", "dynamic", {"all": [{"fact": "store.format", "operator": "equal", "value": "express"},
                                                {"fact": "sku.brand", "operator": "in", "value": ["x", "y"]}]}),
    ):
        specs.create({"name": name, "kind": kind, "rules": rules})
    defs = build_definitions(data_dir, cohorts_dir=specs.cohorts_dir)
    (data_dir.parent / "sensor_home").mkdir()
    instance = DagsterInstance.local_temp(str(data_dir.parent / "sensor_home"))  # partitioned requests need its ref
    resources = build_resources(data_dir, cohorts_dir=specs.cohorts_dir)

    def tick(cursor=None):
        with build_sensor_context(instance_ref=instance.get_ref(), resources=resources, cursor=cursor,
                                  definitions=defs) as context:
            result = defs.get_sensor_def("cohort_reevaluation_sensor").evaluate_tick(context)
        for request in result.dynamic_partitions_requests or []:
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        return {r.partition_key: r.tags["mrs/trigger"] for r in result.run_requests}, result.cursor

    requested, cursor = tick()
    assert requested == {f"COH-{n}": "new_cohort" for n in range(1, 5)}
    for cohort_id in requested:
        assert materialize([cohort_membership], partition_key=cohort_id, resources=resources, instance=instance).success
    assert tick(cursor)[0] == {}

    write_reference(data_dir, stores=STORES.assign(region=["north", "south", "south", "north"]))
    requested, cursor = tick(cursor)
    assert requested == {"COH-1": "fields_changed"}  # not the static COH-3, not the others
    assert materialize([cohort_membership], partition_key="COH-1", resources=resources, instance=instance).success
    assert members(lake, "COH-1") == ["301", "304"] and members(lake, "COH-3") == ["301", "302"]

    write_reference(data_dir, stores=STORES.assign(region=["north", "south", "south", "north"]),
                    skus=SKUS.assign(brand=["x", "x", "y"]))
    requested, cursor = tick(cursor)
    assert requested == {"COH-4": "fields_changed"}

    new_series = pd.DataFrame([{"retailer": "acme", "store_id": "301", "sku": "D", "ts": T0, "units": 1.0,
                                "sales_value": 1.0, "feed_version": 1, "written_at": T0, "run_id": RUN}])
    lake.append("sales_timeseries_data", new_series)
    write_world_state(lake, lake.read("sales_timeseries_data"), active_events(8))
    requested, cursor = tick(cursor)
    assert lake.read("combo_catalog")["version"].max() == 2
    assert "COH-4" in requested and "COH-1" not in requested and "COH-2" not in requested


def test_the_pipeline_catalogs_its_series_and_hydrated_events_show_their_analyst(tmp_path, tiny_world):
    world_dir = tmp_path / "data"
    write_world(tiny_world, world_dir)
    materialize_all(world_dir)
    lake = Lake(world_dir / "lake")
    catalog = lake.read("combo_catalog")
    series = lake.read("sales_timeseries_data", columns=["store_id", "sku"]).drop_duplicates()
    assert len(catalog) == len(series) and set(catalog["version"]) == {1} and catalog["combo_id"].is_unique
    metrics = lake.read("cohort_metrics")
    assert set(metrics["combo_id"]) == set(catalog["combo_id"]) and (metrics["avg_daily_units"] > 0).any()

    events = lake.read("minority_events").head(3)
    plan = events[["event_id", "store_id"]].assign(analyst_id=["AN-1", "AN-2", "AN-1"])
    assigned_at = pd.Timestamp("2026-11-23 09:00", tz="UTC")
    lake.append("event_assignments_log", assignment_rows(plan, "COH-1", "round_robin", None, assigned_at, RUN))
    _, hydrated = hydrate(lake, RUN)
    by_event = hydrated.set_index("event_id")["assigned_to"]
    assert by_event[events["event_id"]].tolist() == ["AN-1", "AN-2", "AN-1"]
    assert by_event.drop(events["event_id"]).isna().all() and len(by_event) > 3
    _, before = hydrate(lake, RUN, as_of=assigned_at - pd.Timedelta(microseconds=1))
    assert before["assigned_to"].isna().all()
