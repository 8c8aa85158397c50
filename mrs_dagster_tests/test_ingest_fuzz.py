"""Malformed deliveries, at random (hypothesis), landed as real files and ingested by a real
Dagster run: nothing crashes, every valid row is ingested, every invalid row is a dead letter."""

import shutil
from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetSelection, DagsterInstance, materialize
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mrs_dagster.definitions import ASSETS, build_resources
from mrs_dagster.contracts import REFERENCE_COLUMNS
from mrs_dagster.lake import Lake
from mrs_dagster.landing import read_reference

pytestmark = pytest.mark.world("tiny_world")  # see conftest.world_dir

GOOD = {
    "retailer": st.sampled_from(["waitrose", "freshco"]),
    "store_id": st.sampled_from(["301", "302", "Café 7"]),
    "sku": st.sampled_from(["SKU0001", "SKU0002", "ÆBLE"]),
    "ts": st.sampled_from(["2026-03-09T10:05:00Z", "2026-03-09 10:07:00+01:00", "2026-03-09T23:55:00"]),
    "units": st.sampled_from(["3", "0.5", "-2", "0", "1e1"]),  # negative units are returns: valid
    "sales_value": st.sampled_from(["1.5", "-3.0", "0"]),
}
BAD = {
    "store_id": st.sampled_from(["", "   "]),
    "ts": st.sampled_from(["not a time", "", "2026-13-45T10:00:00Z", "yesterday"]),
    "units": st.sampled_from(["abc", "inf", "-inf", "nan", "", "1,5"]),
    "sales_value": st.sampled_from(["x", "NaN", ""]),
}


@st.composite
def rows(draw):
    """(row, valid): a landing row, valid unless one of its fields was drawn bad."""
    row = {column: draw(values) for column, values in GOOD.items()}
    broken = draw(st.sets(st.sampled_from(sorted(BAD)), max_size=2))
    for column in broken:
        row[column] = draw(BAD[column])
    return row, not broken


@st.composite
def deliveries(draw):
    """(kind, rows): a file to land. Kinds: utf-8 or latin-1 CSV (duplicates allowed), a CSV
    without the sku column, an empty file, undecodable bytes."""
    kind = draw(st.sampled_from(["utf-8", "utf-8", "latin-1", "extra_column", "missing_column", "empty", "garbage"]))
    body = draw(st.lists(rows(), min_size=1, max_size=8))
    if draw(st.booleans()):
        body = body + body[:2]  # sent twice
    return kind, body


def land(folder: Path, index: int, kind: str, body) -> tuple[int, int]:
    """Write one delivery; returns (valid rows, dead letters) it must produce."""
    path = folder / f"delivery_{index:02d}.csv"
    frame = pd.DataFrame([row for row, _ in body], columns=list(GOOD))  # no feed_version: optional
    if kind == "empty":
        path.write_bytes(b"")
        return 0, 1
    if kind == "garbage":
        path.write_bytes(bytes(range(256)) * 3)
        return 0, None  # unreadable or unparseable: however it is read, nothing is valid
    if kind == "extra_column":
        kind = "utf-8"
        frame["loyalty_points"] = "12"
    if kind == "missing_column":
        frame.drop(columns="sku").to_csv(path, index=False)
        return 0, len(frame)
    path.write_bytes(frame.to_csv(index=False).encode(kind))
    valid = sum(ok for _, ok in body)
    return valid, len(body) - valid


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.lists(deliveries(), min_size=1, max_size=7))
def test_random_malformed_deliveries_lose_no_valid_row_and_dead_letter_every_invalid_one(tmp_path, files):
    data_dir = tmp_path / "fuzz"
    shutil.rmtree(data_dir, ignore_errors=True)
    folder = data_dir / "landing" / "sales"
    folder.mkdir(parents=True)
    expected = [land(folder, i, kind, body) for i, (kind, body) in enumerate(files)]

    result = materialize(
        ASSETS, resources=build_resources(data_dir), instance=DagsterInstance.ephemeral(),
        selection=AssetSelection.assets("unified_sales_data", "unified_sales_data_errors", "demo_run_config"),
    )
    assert result.success
    lake = Lake(data_dir / "lake")
    unified, dead = lake.read("unified_sales_data"), lake.read("unified_sales_data_errors")
    for i, (valid, invalid) in enumerate(expected):
        name = f"landing/sales/delivery_{i:02d}.csv"
        ingested = unified[unified["source_file"] == name]
        letters = dead[dead["source_file"] == name]
        assert len(ingested) == valid, (files[i][0], name)
        if invalid is None:
            assert len(letters) >= 1
        else:
            assert len(letters) == invalid, (files[i][0], name, letters.to_dict("records"))
        assert ingested["units"].notna().all() and ingested["ts"].notna().all()


def test_schema_drift_a_missing_optional_column_is_defaulted_and_an_unknown_one_ignored(tmp_path):
    folder = tmp_path / "landing" / "sales"
    folder.mkdir(parents=True)
    delivery = pd.DataFrame({
        "retailer": "waitrose", "store_id": "301", "sku": ["SKU0001", "SKU0002"],
        "ts": "2026-03-09T10:05:00Z", "units": ["3", "-1"], "sales_value": ["4.5", "-1.5"],
        "loyalty_points": ["12", "7"],  # a column no contract knows
    })  # and no feed_version column
    delivery.to_csv(folder / "waitrose_2026-03-09.csv", index=False)
    result = materialize(ASSETS, resources=build_resources(tmp_path), instance=DagsterInstance.ephemeral(),
                         selection=AssetSelection.assets("unified_sales_data", "unified_sales_data_errors", "sales_timeseries_data",
                                                             "demo_run_config"))
    assert result.success
    lake = Lake(tmp_path / "lake")
    series = lake.read("sales_timeseries_data")
    assert list(series["units"]) == [3.0, -1.0] and list(series["feed_version"]) == [1, 1]
    assert "loyalty_points" not in lake.read("unified_sales_data").columns
    assert lake.read("unified_sales_data_errors").empty


def test_schema_drift_in_reference_data_a_missing_optional_column_reads_blank(world_dir):
    campaigns = pd.read_csv(world_dir / "reference" / "campaigns.csv", dtype=str, keep_default_na=False)
    campaigns.drop(columns=["kind"]).assign(budget="1000").to_csv(world_dir / "reference" / "campaigns.csv", index=False)
    read = read_reference(world_dir, "campaigns")
    assert list(read.columns) == list(REFERENCE_COLUMNS["campaigns"]) and set(read["kind"]) == {""}
    campaigns.drop(columns=["start"]).to_csv(world_dir / "reference" / "campaigns.csv", index=False)
    with pytest.raises(ValueError, match="missing column"):
        read_reference(world_dir, "campaigns")
