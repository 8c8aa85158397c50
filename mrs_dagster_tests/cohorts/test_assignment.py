import pandas as pd
import pytest

from mrs_dagster.cohorts.assignment import AssignmentRefused, checked_analysts, largest_remainder, plan_assignment

ANALYSTS = pd.DataFrame({"analyst_id": ["A0-1001", "A0-1002", "A0-1003", "A0-1004"], "name": "x",
                         "active": ["True", "True", "true", "False"], "daily_capacity": ["50", "30", "20", "10"]})


def events(n: int) -> pd.DataFrame:
    return pd.DataFrame({"event_id": [f"E{i:04d}" for i in range(n)], "store_id": "301",
                         "impact_estimate": [float(n - i) for i in range(n)]})


def counts(plan) -> dict:
    return plan.assignments["analyst_id"].value_counts().to_dict()


def test_seed_example_100_events_to_capacities_50_30_20():
    capacity = checked_analysts(ANALYSTS, ["A0-1001", "A0-1002", "A0-1003"], "capacity_weighted")
    plan = plan_assignment(events(100), capacity, pd.Series(dtype=int), "capacity_weighted")
    assert counts(plan) == {"A0-1001": 50, "A0-1002": 30, "A0-1003": 20} and plan.unassigned == []
    assert plan.assignments["event_id"].is_unique


def test_largest_remainder_shares_sum_exactly_and_break_ties_by_analyst_id():
    shares = largest_remainder(10, pd.Series([1.0, 1.0, 1.0], index=["b", "a", "c"]))
    assert shares.to_dict() == {"b": 3, "a": 4, "c": 3}
    assert largest_remainder(7, pd.Series([50.0, 30.0, 20.0], index=["x", "y", "z"])).to_dict() == {"x": 4, "y": 2, "z": 1}


def test_no_analyst_gets_more_than_the_capacity_left_today_and_overflow_goes_to_the_others():
    capacity = checked_analysts(ANALYSTS, ["A0-1001", "A0-1002", "A0-1003"], "capacity_weighted")
    today = pd.Series({"A0-1001": 45})  # 5 left
    plan = plan_assignment(events(40), capacity, today, "capacity_weighted")
    assert counts(plan) == {"A0-1001": 5, "A0-1002": 21, "A0-1003": 14} and plan.unassigned == []


def test_what_nobody_can_take_stays_unassigned_and_is_reported():
    capacity = checked_analysts(ANALYSTS, ["A0-1002", "A0-1003"], "capacity_weighted")
    plan = plan_assignment(events(60), capacity, pd.Series({"A0-1003": 20}), "capacity_weighted")
    assert counts(plan) == {"A0-1002": 30}
    assert plan.unassigned == [f"E{i:04d}" for i in range(30, 60)]  # the least money at stake


def test_round_robin_splits_evenly_in_the_order_given_within_capacity():
    capacity = checked_analysts(ANALYSTS, ["A0-1003", "A0-1001"], "round_robin")
    plan = plan_assignment(events(6), capacity, pd.Series(dtype=int), "round_robin")
    assert list(plan.assignments["analyst_id"]) == ["A0-1003", "A0-1001"] * 3
    tight = plan_assignment(events(6), capacity, pd.Series({"A0-1003": 19, "A0-1001": 48}), "round_robin")
    assert list(tight.assignments["analyst_id"]) == ["A0-1003", "A0-1001", "A0-1001"] and len(tight.unassigned) == 3


def test_bad_analysts_are_named_and_nothing_is_assigned():
    with pytest.raises(AssignmentRefused) as error:
        checked_analysts(ANALYSTS, ["A0-1001", "AN-404", "A0-1004", "A0-1001", "../etc"], "capacity_weighted")
    assert str(error.value) == ("repeated analyst id(s): A0-1001; unknown analyst id(s): AN-404, ../etc; "
                                "inactive analyst id(s): A0-1004")
    with pytest.raises(AssignmentRefused, match="unknown strategy 'fastest'"):
        checked_analysts(ANALYSTS, ["A0-1001"], "fastest")
