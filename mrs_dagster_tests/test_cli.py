"""The `mrs` command: clear errors on bad input; demo, export and evaluate on a data dir."""

import pandas as pd
import pytest

from mrs_dagster.cli import main
from mrs_dagster.incremental import PROCESSED_DELIVERIES
from mrs_dagster.memory import PRETOUCH_ENV
from mrs_dagster_tests.conftest import TINY_WORLD, materialize_all

pytestmark = pytest.mark.world("tiny_world")  # see conftest.world_dir


def test_missing_data_dir_is_a_clear_error(tmp_path, capsys):
    assert main(["run", "--data-dir", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_data_dir_without_landing_is_a_clear_error(tmp_path, capsys):
    assert main(["run", "--data-dir", str(tmp_path)]) == 2
    assert "no landing/sales/" in capsys.readouterr().err


def test_unknown_dataset_and_bad_suffix_are_refused(world_dir, tmp_path, capsys):
    assert main(["export", "no_such_log", "--out", str(tmp_path / "x.csv"), "--data-dir", str(world_dir)]) == 2
    assert "unknown dataset 'no_such_log'" in capsys.readouterr().err
    assert main(["export", "minority_event_log", "--out", str(tmp_path / "x.json"), "--data-dir", str(world_dir)]) == 2
    assert "must end in .csv or .parquet" in capsys.readouterr().err


@pytest.mark.parametrize("argv, reason", [
    (["generate", "--stores", "0"], "must be a positive integer"),
    (["serve", "--port", "70000"], "not a port: 70000"),
    (["serve", "--port", "0"], "must be a positive integer"),
])
def test_bad_flags_exit_with_usage(capsys, argv, reason):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert reason in capsys.readouterr().err


def test_generate_refuses_to_overwrite_without_force(world_dir, capsys):
    assert main(["generate", "--data-dir", str(world_dir)]) == 2
    assert "pass --force" in capsys.readouterr().err


def test_generate_never_replaces_a_data_dir_that_is_not_a_generated_world(tmp_path, capsys):
    (tmp_path / "landing").mkdir()
    assert main(["generate", "--force", "--data-dir", str(tmp_path)]) == 2
    assert "not a generated world: refusing" in capsys.readouterr().err
    assert (tmp_path / "landing").is_dir()


def test_generate_shows_progress_as_log_lines_when_not_on_a_terminal(tmp_path, capsys):
    assert main(["generate", "--data-dir", str(tmp_path / "w"), "--stores", "2", "--skus", "3", "--days", "2"]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert [line.split("] generate ")[1].split(":")[0] for line in lines] == [f"{i}/7" for i in range(1, 8)]
    assert [line.split(": ", 1)[1].rsplit(" in ", 1)[0] for line in lines] == [
        "world done", "landing/sales/northmart_2026-03-02 done", "landing/sales/northmart_2026-03-03 done",
        "landing/sales/waitrose_2026-03-02 done", "landing/sales/waitrose_2026-03-03 done", "corrections done",
        "reference and truth done"]
    assert all(line.startswith("[") and line.endswith(" s") for line in lines)  # elapsed, and each step's time


def test_demo_runs_every_step_and_export_and_evaluate_read_its_lake(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    world_dir = tmp_path / "data"
    spec = [f"--{field}={getattr(TINY_WORLD, field)}" for field in ("seed", "stores", "skus", "days")]
    assert main(["demo", "--data-dir", str(world_dir), *spec]) == 0
    run = capsys.readouterr()
    assert "all history" in run.err and "dashboard: " in run.out and "cause_accuracy" in run.out
    steps = [line for line in run.err.splitlines() if "mrs_all_assets (assets and checks)" in line]
    assert len(steps) == len({line.split(": ", 1)[1].split(" ")[0] for line in steps}) >= 40  # each step once
    assert steps[-1].split(" (assets and checks) ")[1].startswith(f"{len(steps)}/{len(steps)}: ")
    assert "top findings by money at stake (insights):\n  1. [" in run.out
    assert main(["export", "minority_event_log", "--out", str(tmp_path / "events.parquet"), "--data-dir", str(world_dir)]) == 0
    events = pd.read_parquet(tmp_path / "events.parquet")
    assert not events.empty and "finalized_at" in events.columns
    assert main(["export", "minority_reports_detected_log", "--out", str(tmp_path / "mrdl.csv"),
                 "--as-of", "2026-03-09T12:00:00Z", "--data-dir", str(world_dir)]) == 0
    mrdl = pd.read_csv(tmp_path / "mrdl.csv", parse_dates=["written_at"])
    assert (mrdl["written_at"] <= pd.Timestamp("2026-03-09T12:00:00Z")).all()
    capsys.readouterr()
    assert main(["evaluate", "--data-dir", str(world_dir)]) == 0
    printed = capsys.readouterr().out
    for word in ("overall", "recall", "precision", "f1", "cause_accuracy", "stockout", "viral_demand"):
        assert word in printed


def test_bad_as_of_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["export", "minority_event_log", "--out", str(tmp_path / "x.csv"), "--as-of", "last tuesday"])
    assert "not a timestamp: 'last tuesday'" in capsys.readouterr().err


def test_a_broken_run_config_is_a_clear_error(world_dir, tmp_path, capsys):
    (world_dir / "demo_run_config.json").write_text("{run_id: oops")
    assert main(["export", "minority_event_log", "--out", str(tmp_path / "x.csv"), "--data-dir", str(world_dir)]) == 2
    assert "demo_run_config.json: not a JSON object with a 'run_id'" in capsys.readouterr().err
    (world_dir / "demo_run_config.json").write_text('{"run_id": ""}')
    assert main(["evaluate", "--data-dir", str(world_dir)]) == 2
    assert "'run_id' must be a non-empty string" in capsys.readouterr().err


def test_a_bad_pretouch_setting_is_refused_before_anything_runs(world_dir, capsys, monkeypatch):
    monkeypatch.setenv(PRETOUCH_ENV, "lots")
    assert main(["run", "--data-dir", str(world_dir)]) == 2
    assert f"{PRETOUCH_ENV}='lots': not a byte count" in capsys.readouterr().err
    assert not (world_dir / "lake" / PROCESSED_DELIVERIES).exists()


def test_edits_are_validated_and_a_refused_edit_writes_nothing(world_dir, capsys):
    from mrs_dagster.lake import Lake
    from mrs_dagster.stages.hydrate import latest

    materialize_all(world_dir)
    lake = Lake(world_dir / "lake")
    report = latest(lake.read("minority_reports_detected_log"), "report_id").iloc[0]
    event_id = lake.read("minority_event_log")["event_id"].iloc[0]

    refused = [
        ["edit", "report", "no-such-report", "--analyst", "AN-1", "--verdict", "anomaly"],
        ["edit", "report", report["report_id"], "--analyst", "AN-99", "--verdict", "anomaly"],
        ["edit", "report", report["report_id"], "--analyst", "AN-4", "--verdict", "anomaly"],  # inactive
        ["edit", "report", report["report_id"], "--analyst", "AN-1", "--cause", "aliens"],
        ["edit", "event", event_id, "--analyst", "AN-1", "--verdict", "maybe"],
        ["edit", "event", event_id, "--analyst", "AN-1"],
    ]
    reasons = ["unknown report id", "unknown analyst 'AN-99'", "analyst 'AN-4' is not active",
               "unknown cause 'aliens'", "unknown verdict 'maybe'", "nothing to record"]
    for argv, reason in zip(refused, reasons):
        assert main([*argv, "--data-dir", str(world_dir)]) == 2
        assert reason in capsys.readouterr().err
    assert lake.read("user_edits_log").empty and lake.read("user_minority_events_edits_log").empty

    assert main(["edit", "report", report["report_id"], "--analyst", "AN-2", "--verdict", "expected",
                 "--cause", "promotion", "--note", "planned", "--data-dir", str(world_dir)]) == 0
    edits = lake.read("user_edits_log")
    assert len(edits) == 1
    row = edits.iloc[0]
    assert (row["report_id"], row["sku"], row["analyst_id"], row["verdict"], row["cause_override"], row["note"]) == (
        report["report_id"], report["sku"], "AN-2", "expected", "promotion", "planned")
