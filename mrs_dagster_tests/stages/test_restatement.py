import pandas as pd

from mrs_dagster.stages.restatement import changed_reports, restate


def rows(cluster_by_tick: dict) -> pd.DataFrame:
    return pd.DataFrame([
        {"report_id": rid, "store_id": "301", "sku": "A", "written_at": pd.Timestamp(f"2026-03-09 {hhmm}", tz="UTC"),
         "version": 1, "cluster_id": cluster}
        for (rid, hhmm), cluster in cluster_by_tick.items()
    ])


def test_only_reports_whose_logged_state_is_contradicted_are_restated_at_the_new_tick():
    logged = rows({("r1", "10:00"): "c1", ("r1", "10:05"): "c1", ("r2", "10:00"): "c2", ("r3", "12:00"): "c3"})
    computed = rows({("r1", "10:00"): "c1", ("r1", "10:05"): "c9", ("r2", "10:00"): "c2", ("r3", "12:00"): None})
    changed = changed_reports(computed, logged, ["cluster_id"])
    assert changed == {"r1", "r3"}
    at = pd.Timestamp("2026-03-09 12:00", tz="UTC")
    restated = restate(computed, changed, at)
    # r3's newest row is at the re-evaluation tick already: its next tick carries the correction.
    assert restated[["report_id", "written_at", "cluster_id"]].values.tolist() == [["r1", at, "c9"]]
