"""Clustering: the cause patterns reports share, as known at each tick."""

import pandas as pd

from mrs_dagster.contracts import MINORITY_REPORTS_CLUSTERED_LOG, conform
from mrs_dagster.stages.clustering import cluster_reports, unclustered

STORES = pd.DataFrame({"store_id": ["1", "2", "3", "4"], "region": ["north", "north", "south", "south"]})
SKUS = pd.DataFrame({"sku": [f"S{i}" for i in range(8)], "category": ["a", "a", "b", "b", "c", "c", "d", "d"]})


def t(hhmm: str) -> pd.Timestamp:
    return pd.Timestamp(f"2026-03-10 {hhmm}", tz="UTC")


def rows(*items):
    return pd.DataFrame(
        [{"report_id": f"{store}-{sku}", "store_id": store, "sku": sku, "written_at": t(tick), "version": 1}
         for store, sku, tick in items]
    )


def current(clusters: pd.DataFrame) -> pd.DataFrame:
    return clusters.sort_values("written_at").drop_duplicates("report_id", keep="last").set_index("report_id")


def test_one_sku_in_three_stores_is_one_cluster_that_grows_as_stores_join():
    clusters = conform(
        MINORITY_REPORTS_CLUSTERED_LOG,
        cluster_reports(rows(("1", "S0", "10:00"), ("2", "S0", "10:10"), ("3", "S0", "10:20")), STORES, SKUS, "run"),
    )
    by_tick = clusters.set_index("written_at")
    assert by_tick.loc[t("10:00"), "cluster_label"] == "isolated"
    assert by_tick.loc[t("10:10"), "cluster_label"] == "region_multi_store"  # two northern stores
    assert by_tick.loc[t("10:20"), "cluster_label"] == "sku_across_stores"
    assert by_tick.loc[t("10:20"), "cluster_size"] == 3


def test_a_store_whose_whole_range_moves_is_store_wide():
    items = [("4", f"S{i}", "12:00") for i in range(7)] + [("1", "S7", "12:00")]  # 4 categories
    now = current(cluster_reports(rows(*items), STORES, SKUS, "run"))
    store_four = now.loc[[f"4-S{i}" for i in range(7)]]
    assert set(store_four["cluster_label"]) == {"store_wide"}
    assert store_four["cluster_id"].nunique() == 1 and set(store_four["cluster_size"]) == {7}
    assert now.loc["1-S7", "cluster_label"] == "isolated"


def test_reports_far_apart_in_time_do_not_cluster():
    now = current(cluster_reports(rows(("1", "S0", "09:00"), ("2", "S0", "11:00"), ("3", "S0", "13:00")), STORES, SKUS, "run"))
    assert set(now["cluster_label"]) == {"isolated"}
    assert now["cluster_id"].nunique() == 3


def test_a_few_skus_of_one_store_are_store_multi_sku_and_without_categories_store_wide():
    few = rows(*[("4", f"S{i}", "12:00") for i in range(6)])  # 3 categories
    assert set(current(cluster_reports(few, STORES, SKUS, "run"))["cluster_label"]) == {"store_multi_sku"}
    assert set(current(cluster_reports(few, None, None, "run"))["cluster_label"]) == {"store_wide"}


def test_failed_clustering_emits_every_report_unclustered():
    detected = rows(("1", "S0", "10:00"), ("2", "S1", "10:00"))
    out = conform(MINORITY_REPORTS_CLUSTERED_LOG, unclustered(detected, "run"))
    assert len(out) == 2 and out["cluster_id"].isna().all() and out["cluster_size"].isna().all()
