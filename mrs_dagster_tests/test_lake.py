"""The lake: append-only Iceberg tables with dedup on write, as-of and run-scoped reads."""

import shutil
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pandera.errors
import pyarrow.parquet as pq
import pytest

from mrs_dagster.contracts import DATASETS, TEXT_DTYPE, contract_report
from mrs_dagster.lake import DEFAULT_NAMESPACE, Lake, UnknownDatasetError
from mrs_dagster.stages.order import distinct_by_order
from mrs_dagster.stages.shards import StoreShard


def config_rows(*run_ids):
    return pd.DataFrame({"run_id": list(run_ids), "config_source": "test"})


def baseline_rows(n: int, run_id: str = "run-1") -> pd.DataFrame:
    ts = pd.Timestamp("2026-03-02 08:00", tz="UTC") + pd.to_timedelta(range(0, 5 * n, 5), unit="min")
    return pd.DataFrame(
        {"store_id": "301", "sku": "A", "ts": ts, "expected_units": 1.5, "expected_sales_value": 3.0,
         "model_version": "v1", "written_at": ts, "version": 1, "run_id": run_id}
    )


def test_append_dedups_on_the_idempotent_key(tmp_path):
    lake = Lake(tmp_path / "lake")
    assert lake.append("baseline_sales_model_prediction_log", baseline_rows(10)) == 10
    assert lake.append("baseline_sales_model_prediction_log", baseline_rows(10)) == 0
    assert lake.append("baseline_sales_model_prediction_log", baseline_rows(12)) == 2
    assert len(lake.read("baseline_sales_model_prediction_log")) == 12


def test_rows_out_of_order_with_a_key_twice_are_stored_once_each_in_order(tmp_path):
    lake = Lake(tmp_path / "lake")
    rows = baseline_rows(5)

    assert lake.append("baseline_sales_model_prediction_log", pd.concat([rows.iloc[::-1], rows.iloc[[2]]])) == 5
    stored = lake.read("baseline_sales_model_prediction_log")
    pd.testing.assert_series_equal(stored["ts"], rows["ts"])


def test_dedup_finds_the_stored_keys_of_the_new_rows_stores_at_the_same_ticks(tmp_path):
    lake = Lake(tmp_path / "lake")
    name = "baseline_sales_model_prediction_log"
    assert lake.append(name, baseline_rows(3)) == 3
    assert lake.append(name, baseline_rows(3).assign(store_id="302")) == 3
    assert lake.append(name, pd.concat([baseline_rows(4), baseline_rows(3).assign(store_id="302")])) == 1
    assert sorted(lake.read(name).groupby("store_id").size().items()) == [("301", 4), ("302", 3)]


def test_a_row_groups_dictionary_stops_at_128_kib_so_distinct_measures_are_written_plain(tmp_path):
    lake = Lake(tmp_path / "lake")
    rows = baseline_rows(40_000).assign(expected_units=np.random.default_rng(7).random(40_000))
    lake.append("baseline_sales_model_prediction_log", rows)
    files = list((tmp_path / "lake").rglob("*.parquet"))
    assert len(files) == 1
    row_group = pq.ParquetFile(files[0]).metadata.row_group(0)
    chunks = {row_group.column(i).path_in_schema: row_group.column(i) for i in range(row_group.num_columns)}

    def dictionary_bytes(column: str) -> int:
        chunk = chunks[column]
        return chunk.data_page_offset - chunk.dictionary_page_offset if chunk.has_dictionary_page else 0

    # 40,000 distinct doubles make a 300 KB dictionary under pyiceberg's default 2 MiB limit; the
    # writer checks the limit a batch of rows at a time, so it stops a little past 128 KiB.
    assert 0 < dictionary_bytes("expected_units") < 200_000
    assert chunks["sku"].has_dictionary_page


def test_text_reads_as_arrow_backed_strings_that_pass_the_contract_and_dedup_as_written(tmp_path):
    lake = Lake(tmp_path / "lake")
    ts = pd.Timestamp("2026-03-02 08:00", tz="UTC")
    rows = pd.DataFrame({"store_id": "301", "sku": ["A", "B"], "ts": ts, "anomaly_score": 9.0, "anomaly_flag": True,
                         "direction": ["spike", None], "window_ticks": 3, "severity_score": 0.5,
                         "model_version": "v1", "written_at": ts, "version": 1, "run_id": "run-1"})
    lake.append("anomaly_classifier_model_prediction_log", rows)
    read = lake.read("anomaly_classifier_model_prediction_log")
    text = ["store_id", "sku", "direction", "model_version", "run_id"]
    assert (read[text].dtypes == TEXT_DTYPE).all()
    assert read["direction"].iloc[0] == "spike" and pd.isna(read["direction"].iloc[1])
    report = contract_report(DATASETS["anomaly_classifier_model_prediction_log"], read)
    assert report.contract_failures.empty and report.required_nulls == {}
    assert lake.append("anomaly_classifier_model_prediction_log", read) == 0


def test_read_as_of_and_by_run_id(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.append("baseline_sales_model_prediction_log", baseline_rows(10, "run-1"))
    lake.append("baseline_sales_model_prediction_log", baseline_rows(4, "run-2"))
    assert len(lake.read("baseline_sales_model_prediction_log", run_id="run-2")) == 4
    as_of = lake.read("baseline_sales_model_prediction_log", as_of="2026-03-02T08:20:00Z", run_id="run-1")
    assert list(as_of["written_at"].dt.strftime("%H:%M")) == ["08:00", "08:05", "08:10", "08:15", "08:20"]
    naive_as_of = lake.read("baseline_sales_model_prediction_log", as_of="2026-03-02 08:20", run_id="run-1")
    assert len(naive_as_of) == 5


def test_newest_is_the_latest_time_of_a_run_ids_rows(tmp_path):
    lake = Lake(tmp_path / "lake")
    assert lake.newest("baseline_sales_model_prediction_log", "ts") is None
    lake.append("baseline_sales_model_prediction_log", baseline_rows(10, "run-1"))
    lake.append("baseline_sales_model_prediction_log", baseline_rows(4, "run-2"))
    assert lake.newest("baseline_sales_model_prediction_log", "ts", "run-1") == pd.Timestamp("2026-03-02 08:45", tz="UTC")
    assert lake.newest("baseline_sales_model_prediction_log", "written_at", "run-2") == pd.Timestamp("2026-03-02 08:15", tz="UTC")
    assert lake.newest("baseline_sales_model_prediction_log", "ts", "run-3") is None


def test_count_and_newest_come_from_the_files_bounds_when_each_file_holds_one_run_ids_rows(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.append("baseline_sales_model_prediction_log", baseline_rows(10, "run-1"))
    lake.append("baseline_sales_model_prediction_log", baseline_rows(4, "run-2"))
    for data_file in (tmp_path / "lake").rglob("*.parquet"):  # nothing to read: the answers are the metadata's
        data_file.unlink()

    assert lake.count("baseline_sales_model_prediction_log", "run-1") == 10
    assert lake.count("baseline_sales_model_prediction_log") == 14
    newest = pd.Timestamp("2026-03-02 08:45", tz="UTC")
    assert lake.newest("baseline_sales_model_prediction_log", "ts", "run-1") == newest
    assert lake.count("baseline_sales_model_prediction_log", "run-3") == 0


TICK_8 = pd.Timestamp("2026-03-02 08:00", tz="UTC")


def test_time_batches_split_a_runs_rows_into_spans_of_whole_ticks_that_hold_each_row_once(tmp_path):
    lake = Lake(tmp_path / "lake")
    name = "baseline_sales_model_prediction_log"
    later = pd.Timedelta(minutes=30)
    # Appends whose ticks overlap, as a replay's do, and another store's rows at the same ticks.
    lake.append(name, baseline_rows(10))
    lake.append(name, baseline_rows(6).assign(store_id="302"))
    lake.append(name, baseline_rows(14).assign(version=2, ts=lambda r: r["ts"] + later, written_at=lambda r: r["ts"]))
    lake.append(name, baseline_rows(3, "run-2").assign(ts=lambda r: r["ts"] + 4 * later))

    spans = lake.time_batches(name, "ts", rows=1, run_id="run-1")

    # A cut where a file starts after the first: the two files starting at 08:00 are not cut apart.
    assert [(span.start, span.end) for span in spans] == [(None, TICK_8 + later), (TICK_8 + later, None)]
    parts = [lake.read(name, run_id="run-1", span=span) for span in spans]
    whole = lake.read(name, run_id="run-1")
    assert sum(len(part) for part in parts) == len(whole) == 30
    ticks = [set(part["ts"]) for part in parts]
    assert all(not (a & b) for i, a in enumerate(ticks) for b in ticks[i + 1:])


@pytest.mark.parametrize("other_run", ["run-2", "a-run-id-longer-than-sixteen-characters"])
def test_count_and_newest_read_the_rows_when_a_file_holds_other_rows_or_its_bound_is_cut(tmp_path, other_run):
    """One append of two run_ids is one data file with both; a text bound keeps 16 characters."""
    lake = Lake(tmp_path / "lake")
    lake.append("baseline_sales_model_prediction_log",
                pd.concat([baseline_rows(10, "run-1"), baseline_rows(4, other_run)], ignore_index=True))

    assert lake.count("baseline_sales_model_prediction_log", "run-1") == 10
    assert lake.count("baseline_sales_model_prediction_log", other_run) == 4
    newest = pd.Timestamp("2026-03-02 08:45", tz="UTC")
    assert lake.newest("baseline_sales_model_prediction_log", "ts", "run-1") == newest
    assert lake.newest("baseline_sales_model_prediction_log", "written_at", other_run) == pd.Timestamp(
        "2026-03-02 08:15", tz="UTC")


def test_read_by_store(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.append("baseline_sales_model_prediction_log",
                pd.concat([baseline_rows(3), baseline_rows(2).assign(store_id="302"), baseline_rows(1).assign(store_id="303")]))
    rows = lake.read("baseline_sales_model_prediction_log", store_ids=["302", "303"], columns=["store_id", "ts"])
    assert sorted(rows["store_id"]) == ["302", "302", "303"]
    assert lake.read("baseline_sales_model_prediction_log", store_ids=[]).empty


def test_a_views_rows_read_by_store_shard_are_that_shards(tmp_path):
    lake = Lake(tmp_path / "lake")
    stores = [str(301 + i) for i in range(8)]
    ticks = pd.Timestamp("2026-03-02 08:00", tz="UTC")
    lake.replace_view("data_gaps", pd.DataFrame({"store_id": stores, "gap_start": ticks, "gap_end": ticks,
                                                 "ticks": 1, "run_id": "run-1"}))
    read = [set(lake.read("data_gaps", shard=shard)["store_id"]) for shard in StoreShard.all(3)]
    assert read == [set(shard.stores(stores)) for shard in StoreShard.all(3)]
    assert lake.read("data_gaps", shard=StoreShard(1, 3))["gap_start"].dtype == "datetime64[ns, UTC]"


def test_a_tables_rows_read_by_store_shard_or_source_file_are_those_rows(tmp_path):
    lake = Lake(tmp_path / "lake")
    stores = [str(301 + i) for i in range(8)]
    lake.append("baseline_sales_model_prediction_log", pd.concat([baseline_rows(2).assign(store_id=s) for s in stores]))
    read = [lake.read("baseline_sales_model_prediction_log", shard=shard) for shard in StoreShard.all(3)]
    assert [set(rows["store_id"]) for rows in read] == [set(shard.stores(stores)) for shard in StoreShard.all(3)]
    assert sum(map(len, read)) == 16 and read[0]["ts"].dtype == "datetime64[ns, UTC]"
    ticks = pd.Timestamp("2026-03-02 08:00", tz="UTC")
    lake.append("unified_sales_data", pd.DataFrame({
        "retailer": "r", "store_id": "301", "sku": "A", "ts": ticks, "units": 1.0, "sales_value": 2.0, "feed_version": 1,
        "source_file": ["a.csv", "b.csv", "b.csv", "c.csv"], "source_line": [1, 1, 2, 1], "written_at": ticks, "run_id": "run-1"}))
    rows = lake.read("unified_sales_data", source_files=["b.csv", "c.csv"])
    assert sorted(zip(rows["source_file"], rows["source_line"])) == [("b.csv", 1), ("b.csv", 2), ("c.csv", 1)]


def test_store_batches_split_a_tables_stores_into_parts_of_about_the_rows_and_never_more_than_its_stores(tmp_path):
    lake = Lake(tmp_path / "lake")
    assert lake.store_batches("baseline_sales_model_prediction_log", 10) == StoreShard.all(1)
    lake.append("baseline_sales_model_prediction_log", pd.concat([baseline_rows(10).assign(store_id=str(s)) for s in range(301, 305)]))
    assert lake.store_batches("baseline_sales_model_prediction_log", 100) == StoreShard.all(1)
    assert lake.store_batches("baseline_sales_model_prediction_log", 15) == StoreShard.all(3)
    assert lake.store_batches("baseline_sales_model_prediction_log", 1) == StoreShard.all(4)


def test_unwritten_table_reads_empty_with_contract_columns(tmp_path):
    frame = Lake(tmp_path / "lake").read("minority_event_log")
    assert frame.empty and "finalized_at" in frame.columns


def test_rows_breaking_the_contract_are_refused_and_nothing_is_written(tmp_path):
    lake = Lake(tmp_path / "lake")
    bad = baseline_rows(3).assign(expected_units=[1.0, -2.0, 1.0])
    with pytest.raises(pandera.errors.SchemaErrors):
        lake.append("baseline_sales_model_prediction_log", bad)
    assert lake.read("baseline_sales_model_prediction_log").empty


def test_unknown_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(UnknownDatasetError, match="unknown dataset 'nope'; known datasets: .*minority_event_log"):
        Lake(tmp_path / "lake").read("nope")


def test_a_writer_killed_mid_append_leaves_no_partial_rows(tmp_path):
    """Kill -9 a process while it appends 400,000 rows: readers see all of them or none."""
    script = textwrap.dedent(
        f"""
        from mrs_dagster.lake import Lake
        from mrs_dagster_tests.test_lake import baseline_rows
        lake = Lake({str(tmp_path / 'lake')!r})
        rows = baseline_rows(400_000)
        print("ready", flush=True)
        lake.append("baseline_sales_model_prediction_log", rows)
        print("done", flush=True)
        """
    )
    Lake(tmp_path / "lake").append("baseline_sales_model_prediction_log", baseline_rows(1))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.3)
    proc.kill()
    proc.wait()
    assert len(Lake(tmp_path / "lake").read("baseline_sales_model_prediction_log")) in (1, 400_000)


def test_a_lake_deleted_and_made_again_at_the_same_path_starts_empty(tmp_path):
    """The process keeps catalogs open (lake._catalog): a new lake at an old path must not see the old one."""
    lake = Lake(tmp_path / "lake")
    lake.append("baseline_sales_model_prediction_log", baseline_rows(3))
    assert lake.exists("baseline_sales_model_prediction_log") and not lake.exists("unified_sales_data")
    shutil.rmtree(tmp_path / "lake")
    again = Lake(tmp_path / "lake")
    assert not again.exists("baseline_sales_model_prediction_log")
    assert again.append("baseline_sales_model_prediction_log", baseline_rows(2)) == 2
    assert len(Lake(tmp_path / "lake").read("baseline_sales_model_prediction_log")) == 2


def test_read_since_is_the_rows_written_from_a_tick_on(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.append("baseline_sales_model_prediction_log", baseline_rows(10))
    since = pd.Timestamp("2026-03-02 08:30", tz="UTC")
    rows = lake.read("baseline_sales_model_prediction_log", since=since)
    assert len(rows) == 4 and rows["written_at"].min() == since


def delivery(name: str, lines: int) -> pd.DataFrame:
    """`unified_sales_data` rows of a delivery `name` of `lines` lines, its text Arrow-backed."""
    ts = pd.Timestamp("2026-03-02 08:00", tz="UTC")
    rows = pd.DataFrame({"retailer": "r", "store_id": "301", "sku": "A", "ts": ts, "units": 1.0, "sales_value": 2.0,
                         "feed_version": 1, "source_file": name, "source_line": range(1, lines + 1),
                         "written_at": ts, "run_id": "run-1"})
    return rows.astype({column: TEXT_DTYPE for column in ("retailer", "store_id", "sku", "source_file", "run_id")})


def test_dedup_by_source_file_appends_only_the_new_deliveries_lines(tmp_path):
    lake = Lake(tmp_path / "lake")

    assert lake.append("unified_sales_data", delivery("landing/sales/a.csv", 3)) == 3
    both = pd.concat([delivery("landing/sales/a.csv", 3), delivery("landing/sales/b.csv", 2)])
    assert lake.append("unified_sales_data", both) == 2
    assert sorted(lake.read("unified_sales_data")["source_file"].unique()) == ["landing/sales/a.csv", "landing/sales/b.csv"]


def test_rows_in_many_chunks_land_in_files_of_consecutive_rows_whose_read_back_shows_no_repeat(tmp_path):
    """pyiceberg packs an append's record batches into data files first-fit: the rows of deliveries
    concatenated (their text a chunk per delivery) would land in files each spanning all of them."""
    lake = Lake(tmp_path / "lake")
    name = "unified_sales_data"
    lake.append(name, delivery("landing/sales/a.csv", 1))
    with lake.catalog.load_table((DEFAULT_NAMESPACE, name)).transaction() as change:
        change.set_properties(**{"write.target-file-size-bytes": str(64 * 1024)})
    sizes = np.random.default_rng(3).integers(50, 400, size=40)

    lake.append(name, pd.concat([delivery(f"landing/sales/b{i:02d}.csv", lines) for i, lines in enumerate(sizes)]))

    assert len(list((tmp_path / "lake").rglob(f"{name}/data/*.parquet"))) > 3
    rows = lake.read(name)
    assert distinct_by_order(rows, list(DATASETS[name].sort_by))
    assert len(rows) == 1 + sizes.sum()


def series_rows(ts: list[str], feed_version: int, units: float) -> pd.DataFrame:
    ticks = pd.to_datetime(ts, utc=True)
    return pd.DataFrame({"retailer": "northmart", "store_id": "301", "sku": "A", "ts": ticks, "feed_version": feed_version,
                         "units": units, "sales_value": 2 * units, "written_at": ticks, "run_id": "run-1"})


def test_the_current_series_is_the_highest_feed_version_and_follows_each_new_append(tmp_path):
    lake = Lake(tmp_path / "lake")
    assert lake.current_series("run-1").empty
    lake.append("sales_timeseries_data", series_rows(["2026-03-02 08:00", "2026-03-02 08:05"], 1, 1.0))
    first = lake.current_series("run-1")
    assert first["units"].tolist() == [1.0, 1.0]
    first["units"] = 99.0  # a caller's change stays in its copy
    assert lake.current_series("run-1")["units"].tolist() == [1.0, 1.0]
    lake.append("sales_timeseries_data", series_rows(["2026-03-02 08:05"], 2, 5.0))
    current = lake.current_series("run-1")
    assert current["units"].tolist() == [1.0, 5.0] and current["feed_version"].tolist() == [1, 2]
    assert lake.current_series("run-1", since=pd.Timestamp("2026-03-02 08:05", tz="UTC"))["units"].tolist() == [5.0]
    assert lake.current_series("run-2").empty


def test_count_and_distinct_are_of_a_run_ids_rows(tmp_path):
    lake = Lake(tmp_path / "lake")
    assert lake.count("baseline_sales_model_prediction_log") == 0
    assert lake.distinct("baseline_sales_model_prediction_log", "store_id") == set()
    lake.append("baseline_sales_model_prediction_log", baseline_rows(10, "run-1"))
    lake.append("baseline_sales_model_prediction_log", baseline_rows(4, "run-2").assign(store_id="302"))
    assert lake.count("baseline_sales_model_prediction_log", "run-2") == 4
    assert lake.count("baseline_sales_model_prediction_log") == 14
    assert lake.distinct("baseline_sales_model_prediction_log", "store_id", "run-1") == {"301"}
    assert lake.distinct("baseline_sales_model_prediction_log", "store_id") == {"301", "302"}
    at = pd.Timestamp("2026-03-02 08:00", tz="UTC")
    lake.replace_view("data_gaps", pd.DataFrame({"store_id": ["301", "302", "301"], "gap_start": at, "gap_end": at,
                                                 "ticks": 1, "run_id": ["run-1", "run-1", "run-2"]}))
    assert lake.count("data_gaps", "run-1") == 2 and lake.count("data_gaps") == 3


def test_distinct_rows_are_each_combination_of_the_columns_once_of_a_run_ids_rows_from_a_tick(tmp_path):
    lake = Lake(tmp_path / "lake")
    assert lake.distinct_rows("sales_timeseries_data", ["store_id", "ts"]).empty
    ticks = ["2026-03-02 08:00", "2026-03-02 08:05", "2026-03-02 08:10"]
    lake.append("sales_timeseries_data", pd.concat([
        series_rows(ticks, 1, 1.0), series_rows(ticks[:2], 1, 1.0).assign(sku="B"),
        series_rows(ticks[:1], 1, 1.0).assign(store_id="302")]))
    lake.append("sales_timeseries_data", series_rows(ticks[1:], 2, 5.0))  # a resend of two ticks
    lake.append("sales_timeseries_data", series_rows(ticks, 1, 1.0).assign(run_id="run-2", store_id="303"))

    def pairs(frame: pd.DataFrame) -> set:
        return set(zip(frame["store_id"], frame["ts"]))

    at = pd.to_datetime(ticks, utc=True)
    distinct = lake.distinct_rows("sales_timeseries_data", ["store_id", "ts"], "run-1")
    assert len(distinct) == 4 and pairs(distinct) == {("301", at[0]), ("301", at[1]), ("301", at[2]), ("302", at[0])}
    assert list(distinct.columns) == ["store_id", "ts"] and distinct["ts"].dtype == "datetime64[ns, UTC]"
    assert pairs(lake.distinct_rows("sales_timeseries_data", ["store_id", "ts"], "run-1", since=at[1])) == {
        ("301", at[1]), ("301", at[2])}
    assert len(lake.distinct_rows("sales_timeseries_data", ["store_id", "ts"])) == 7
