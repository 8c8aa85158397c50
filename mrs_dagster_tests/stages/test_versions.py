import pandas as pd

from mrs_dagster.stages.versions import current_rows, feed_versions, resend_scope, version_at


def t(hhmm: str) -> pd.Timestamp:
    return pd.Timestamp(f"2026-03-09 {hhmm}", tz="UTC")


def test_a_resend_raises_the_store_data_version_from_its_first_tick_on():
    series = pd.DataFrame({
        "store_id": ["301", "301", "301", "302"],
        "ts": [t("10:00"), t("11:00"), t("12:00"), t("11:00")],
        "feed_version": [1, 2, 1, 1],  # 11:00 was resent; 12:00 came later in the daily feed
    })
    versions = feed_versions(series)
    rows = pd.DataFrame({"store_id": ["301", "301", "301", "302", "303"],
                         "written_at": [t("10:55"), t("11:00"), t("12:00"), t("12:00"), t("12:00")]})
    assert list(version_at(rows, versions)) == [1, 2, 2, 1, 1]
    log = rows.assign(version=[1, 1, 2, 1, 1])
    assert list(current_rows(log, versions).index) == [0, 2, 3, 4]  # the 11:00 row predates the resend
    assert resend_scope(series) == (["301"], t("11:00"))
    assert resend_scope(series[series["feed_version"] == 1]) is None
