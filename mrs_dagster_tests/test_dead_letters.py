"""Dead letters: invalid rows of any stage go to their own `_errors` table, never costing the
valid ones, and `mrs errors` lists them."""

import json

import pandas as pd
import pytest

from mrs_dagster.cli import main
from mrs_dagster.lake import Lake
from mrs_dagster_tests.conftest import materialize_all

pytestmark = pytest.mark.world("tiny_world")  # see conftest.world_dir

RUN = "demo-run-001"


def test_a_stage_row_breaking_the_contract_is_dead_lettered_and_the_rest_appended(tmp_path, capsys):
    lake = Lake(tmp_path / "lake")
    ts = pd.Timestamp("2026-03-09 10:00", tz="UTC")
    detected = pd.DataFrame({
        "report_id": ["r1", "r2"], "store_id": "s1", "sku": "k", "first_detected_from": ts, "window_start": ts,
        "window_end": ts, "direction": ["spike", "sideways"], "observed_units": 5.0, "baseline_units": 1.0,
        "observed_sales_total": 5.0, "baseline_sales_total": 1.0, "attributed_sales_total": 4.0,
        "severity_score": [0.5, 0.5], "detection_mode": "model", "is_degraded": False, "model_version": "m",
        "written_at": ts, "version": 1, "run_id": RUN,
    })
    assert lake.write("minority_reports_detected_log", detected) == (1, 1)
    dead = lake.read("minority_reports_detected_log_errors")
    assert list(dead["report_id"]) == ["r2"] and "direction" in dead["error"].iat[0]
    assert json.loads(dead["raw_payload"].iat[0])["direction"] == "sideways"
    assert list(lake.read("minority_reports_detected_log")["report_id"]) == ["r1"]


def test_unusable_reference_rows_are_dead_lettered_and_the_rest_still_explain(world_dir, capsys):
    campaigns = pd.read_csv(world_dir / "reference" / "campaigns.csv", dtype=str, keep_default_na=False)
    broken = campaigns.iloc[[0]].assign(campaign_id="CMP-BROKEN", start="next tuesday")
    pd.concat([campaigns, broken]).to_csv(world_dir / "reference" / "campaigns.csv", index=False)
    materialize_all(world_dir)
    lake = Lake(world_dir / "lake")
    dead = lake.read("reference_data_errors")
    assert list(dead["source_file"]) == ["reference/campaigns.csv"]
    assert dead["source_line"].iat[0] == len(campaigns) + 1 and "start is not a timestamp" in dead["error"].iat[0]
    assert (lake.read("minority_reports_proposed_attribution_log")["proposed_cause"] == "promotion").any()

    assert main(["errors", "--data-dir", str(world_dir)]) == 0
    listing = capsys.readouterr().out
    assert "reference_data_errors" in listing and "minority_reports_detected_log_errors" in listing
    assert main(["errors", "reference_data", "--data-dir", str(world_dir)]) == 0
    assert "1 dead letter(s) in reference_data_errors" in capsys.readouterr().out
    assert main(["errors", "nonsense", "--data-dir", str(world_dir)]) == 2
    assert "no dead letters called 'nonsense'" in capsys.readouterr().err
