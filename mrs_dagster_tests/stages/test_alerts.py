import pandas as pd

from mrs_dagster.stages.alerts import CheckState, alert_transitions


def state(passed: bool, minute: int) -> CheckState:
    return CheckState("data_gaps", "no_data_gaps", passed, "WARN", {"data_gaps": int(not passed)},
                      pd.Timestamp("2026-03-09 10:00", tz="UTC") + pd.Timedelta(minutes=minute))


def test_one_alert_per_breach_and_one_clearing_row():
    rows, open_ = alert_transitions({}, [state(False, 0)], "run")
    assert list(rows["status"]) == ["raised"] and list(open_) == ["data_gaps.no_data_gaps"]
    again, still = alert_transitions(open_, [state(False, 1)], "run")
    assert again.empty and still == open_
    cleared, none = alert_transitions(still, [state(True, 2)], "run")
    assert list(cleared["status"]) == ["cleared"] and cleared["alert_id"].iat[0] == rows["alert_id"].iat[0]
    assert none == {}
    quiet, _ = alert_transitions({}, [state(True, 3)], "run")
    assert quiet.empty
