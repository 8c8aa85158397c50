import pandas as pd

from mrs_dagster.stages.slo import report_lag


def test_a_log_with_no_rows_yet_trails_every_detected_store_to_the_newest_tick():
    # What a store shard's run sees when its cohorting log is still empty: a lag, not a crash.
    detected = pd.DataFrame({"store_id": ["301", "302"],
                             "written_at": pd.to_datetime(["2026-03-02 10:00", "2026-03-02 11:00"], utc=True)})
    empty = pd.DataFrame({"store_id": pd.Series(dtype=object), "written_at": pd.Series(dtype="datetime64[ns, UTC]")})
    lag = report_lag(empty, detected, pd.Timestamp("2026-03-02 12:00", tz="UTC"), by="store_id")
    assert pd.Timedelta(hours=1) < lag.lag <= pd.Timedelta(hours=2)
