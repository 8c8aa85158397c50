"""Seed 001 §12 end to end: a retailer resends corrected data; the sensor replays the affected
stores and ticks only; superseded reports and their events are closed, the audit trail kept."""

from pathlib import Path

import pandas as pd
from dagster import DagsterInstance, build_sensor_context

from mrs_dagster.cli import main
from mrs_dagster.definitions import build_definitions, build_resources
from mrs_dagster.hydration import hydrate
from mrs_dagster.lake import Lake, dataset
from mrs_dagster.sensors import REPLAY_JOB
from mrs_dagster_tests.conftest import DERIVED_LOGS, materialize_all

RUN = "demo-run-001"
REPLAYED = [name for name in DERIVED_LOGS if name != "sales_timeseries_data"]
# A resent spike the first delivery never had: it can only be found after the correction.
NEW_SPIKE = {"store_id": "301", "sku": "SKU0003", "start": "2026-03-10 11:00", "ticks": 10, "units": 40}


def stored_in(rows: pd.DataFrame, other: pd.DataFrame, name: str) -> pd.Series:
    """Per row of `rows`, whether `other` has a row with its key."""
    key = list(dataset(name).key)
    merged = rows[key].merge(other[key].drop_duplicates().assign(_found=True), on=key, how="left")
    return merged["_found"].notna().set_axis(rows.index)


def land_corrections(data_dir: Path) -> dict[str, pd.DataFrame]:
    """Copy the generated corrections into landing/sales/, with NEW_SPIKE added to store 301's."""
    resent = {}
    for path in sorted((data_dir / "corrections").glob("*.csv")):
        rows = pd.read_csv(path, dtype=str, keep_default_na=False)
        if (rows["store_id"] == NEW_SPIKE["store_id"]).any():
            template = rows[rows["store_id"] == NEW_SPIKE["store_id"]].iloc[0]
            ticks = pd.date_range(NEW_SPIKE["start"], periods=NEW_SPIKE["ticks"], freq="5min", tz="UTC")
            spike = pd.DataFrame([template] * len(ticks)).assign(
                sku=NEW_SPIKE["sku"], ts=ticks.strftime("%Y-%m-%dT%H:%M:%SZ"), units=str(NEW_SPIKE["units"]),
                sales_value=str(NEW_SPIKE["units"] * 2.0),
            )
            rows = pd.concat([spike, rows], ignore_index=True)
        rows.to_csv(data_dir / "landing" / "sales" / path.name, index=False)
        resent[path.name] = rows
    return resent


def test_a_corrected_resend_is_replayed_by_the_sensor_and_supersedes_the_error(world_dir):
    materialize_all(world_dir)
    lake = Lake(world_dir / "lake")
    truth = pd.read_csv(world_dir / "truth" / "anomalies.csv", parse_dates=["start", "end"])
    errors = truth[truth["cause"] == "data_error"].astype({"store_id": str})
    reports, events = hydrate(lake, RUN)
    in_error = reports.merge(errors[["store_id", "start", "end"]], on="store_id")
    in_error = in_error[(in_error["first_detected_from"] >= in_error["start"]) & (in_error["first_detected_from"] <= in_error["end"])]
    assert len(in_error) >= 5 and (in_error["cause"] == "data_error").any()
    error_events = set(in_error["event_id"])
    reviewed = in_error["report_id"].iat[0]
    assert main(["edit", "report", reviewed, "--analyst", "AN-1", "--verdict", "anomaly",
                 "--note", "till malfunction?", "--data-dir", str(world_dir)]) == 0
    before = {name: lake.read(name) for name in REPLAYED}

    sensor_defs = build_definitions(world_dir)
    instance = DagsterInstance.ephemeral()
    sensor = sensor_defs.get_sensor_def("corrected_feed_sensor")

    def evaluate(cursor=None):
        with build_sensor_context(instance=instance, resources=build_resources(world_dir), cursor=cursor) as context:
            return sensor.evaluate_tick(context)

    quiet = evaluate()
    assert quiet.run_requests == []  # the daily deliveries supersede nothing
    resent = land_corrections(world_dir)
    tick = evaluate(quiet.cursor)
    scopes = {r.tags["mrs/delivery"]: r.run_config["resources"]["scope"]["config"] for r in tick.run_requests}
    assert set(scopes) == set(resent)
    for name, rows in resent.items():
        assert scopes[name]["stores"] == sorted(rows["store_id"].unique())
        assert pd.Timestamp(scopes[name]["since"]) == pd.to_datetime(rows["ts"], utc=True).min()
    again = evaluate(tick.cursor)
    assert again.run_requests == []  # one replay per delivery, not per evaluation

    job = sensor_defs.resolve_job_def(REPLAY_JOB)
    for request in tick.run_requests:
        assert job.execute_in_process(run_config=request.run_config, instance=instance, tags=request.tags).success

    since = {s: pd.Timestamp(c["since"]) for c in scopes.values() for s in c["stores"]}
    newest = lake.read("sales_timeseries_data")["ts"].max()
    for name in REPLAYED:
        after = lake.read(name)
        assert stored_in(before[name], after, name).all(), f"{name} lost rows: the audit trail must stay"
        ts = "ts" if "ts" in after.columns else "written_at"
        new = after[~stored_in(after, before[name], name)]
        outside = ~new["store_id"].isin(list(since))
        if name == "minority_reports_clustered_log":
            # Other stores' reports are not replayed, but a cluster they shared with the corrected
            # reports has split: clustering restates them at the newest tick (recall, seed §10).
            restated = new[outside]
            assert (restated["written_at"] == newest).all()
            said = before[name].sort_values("written_at").drop_duplicates("report_id", keep="last").set_index("report_id")
            assert (said.loc[restated["report_id"], "cluster_id"].to_numpy() != restated["cluster_id"].to_numpy()).all()
            new = new[~outside]
        elif name == "minority_reports_proposed_attribution_log":
            assert (new.loc[outside, "written_at"] == newest).all()
            new = new[~outside]
        assert set(new["store_id"]) <= set(since), f"{name} replayed stores outside the correction"
        assert (new[ts] >= new["store_id"].map(since)).all(), f"{name} replayed ticks before the correction"
    assert len(lake.read("minority_reports_detected_log")) > len(before["minority_reports_detected_log"])

    reports, events = hydrate(lake, RUN)
    assert reports["event_id"].notna().all(), "every report, superseded or not, keeps an event"
    gone = reports[reports["report_id"].isin(in_error["report_id"])].set_index("report_id")
    superseded = gone[gone["report_status"] == "superseded"]
    assert len(superseded) >= 0.8 * len(gone)
    assert superseded["is_degraded"].all() and (superseded["correction_status"] == "superseded").all()
    assert superseded["degraded_reasons"].str.contains("SUPERSEDED").all()
    assert gone.loc[reviewed, "verdict"] == "anomaly" and gone.loc[reviewed, "note"] == "till malfunction?"

    closed = events[events["event_id"].isin(error_events)].set_index("event_id")
    emptied = closed[~closed.index.isin(reports.loc[reports["report_status"] != "superseded", "event_id"])]
    assert len(emptied) >= 1
    assert (emptied["event_status"] == "ended").all()
    assert (emptied["resolution_reason"] == "data correction").all()
    assert (emptied["attributed_sales_total"] == 0).all() and (emptied["impact_estimate"] == 0).all()

    spike = reports[(reports["store_id"] == NEW_SPIKE["store_id"]) & (reports["sku"] == NEW_SPIKE["sku"])
                    & (reports["first_detected_from"] >= pd.Timestamp(NEW_SPIKE["start"], tz="UTC"))
                    & (reports["first_detected_from"] < pd.Timestamp(NEW_SPIKE["start"], tz="UTC") + pd.Timedelta("1h"))]
    assert list(spike["correction_status"]) == ["new_after_correction"]
    assert spike["report_status"].iat[0] == "proposed"

    replay = {name: len(lake.read(name)) for name in REPLAYED}
    materialize_all(world_dir)
    assert {name: len(lake.read(name)) for name in REPLAYED} == replay, "a full run after the replay must add nothing"
