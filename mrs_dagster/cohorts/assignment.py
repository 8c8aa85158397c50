"""Assigning a cohort's open minority events to analysts for review (seed 004's agent assignment).

Events go out highest money at stake first (`impact_estimate`, then `event_id`), so what nobody
has room for today is the least costly. Strategies:
- `round_robin`: event i to the i-th analyst in the order given, skipping analysts with no
  capacity left today;
- `capacity_weighted`: each analyst's share of the events is proportional to `daily_capacity`,
  rounded by the largest-remainder method so shares sum exactly (ties to the lower analyst id).
In both, no analyst gets more than the capacity left today (`daily_capacity` minus what was
assigned to them today); a capped share overflows to the others in proportion, and what nobody
can take stays unassigned and is reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from mrs_dagster.contracts import ASSIGNMENT_STRATEGIES
from mrs_dagster.stages.hydrate import event_sku_rows
from mrs_dagster.stages.reference import active

SYNC_LIMIT = 100  # from this many events on, an assignment is a tracked job (seed 004)
PROGRESS_EVERY = 10


class AssignmentRefused(ValueError):
    """Nothing was assigned; the message names every bad analyst id or option."""


def checked_analysts(analysts: pd.DataFrame | None, analyst_ids: list[str], strategy: str) -> pd.Series:
    """Each requested analyst's `daily_capacity`, in the order given. Raises AssignmentRefused
    naming every unknown, inactive or capacity-less analyst, a repeated id, or a bad strategy."""
    problems = []
    if strategy not in ASSIGNMENT_STRATEGIES:
        problems.append(f"unknown strategy {strategy!r} (one of: {', '.join(ASSIGNMENT_STRATEGIES)})")
    if not analyst_ids:
        problems.append("no analyst given")
    if analysts is None:
        raise AssignmentRefused("; ".join([*problems, "reference/analysts.csv is missing: no analyst can be checked"]))
    known = analysts.drop_duplicates("analyst_id").set_index("analyst_id")
    repeated = sorted({a for a in analyst_ids if analyst_ids.count(a) > 1})
    unknown = [a for a in analyst_ids if a not in known.index]
    is_active = active(known.reset_index()).set_axis(known.index)
    inactive = [a for a in analyst_ids if a in known.index and not is_active[a]]
    capacity = pd.to_numeric(known["daily_capacity"], errors="coerce")
    no_capacity = [a for a in analyst_ids if a in known.index and not capacity[a] >= 0]
    for label, ids in (("repeated", repeated), ("unknown", unknown), ("inactive", inactive),
                       ("without a daily_capacity", no_capacity)):
        if ids:
            problems.append(f"{label} analyst id(s): {', '.join(map(str, ids))}")
    if problems:
        raise AssignmentRefused("; ".join(problems))
    return capacity.reindex(analyst_ids).astype(int)


def largest_remainder(total: int, weights: pd.Series) -> pd.Series:
    """`total` split in proportion to `weights` into whole numbers that sum to `total`; the units
    left after flooring go to the largest remainders, ties to the lower index."""
    quotas = weights / weights.sum() * total
    shares = quotas.apply(math.floor).astype(int)
    order = (quotas - shares).rename("r").to_frame().assign(i=weights.index).sort_values(["r", "i"], ascending=[False, True])
    shares[order.index[: total - int(shares.sum())]] += 1
    return shares


@dataclass(frozen=True)
class AssignmentPlan:
    assignments: pd.DataFrame  # event_id, store_id, analyst_id
    unassigned: list[str]  # event ids nobody had capacity for today


def plan_assignment(events: pd.DataFrame, capacity: pd.Series, assigned_today: pd.Series, strategy: str) -> AssignmentPlan:
    """Who reviews which of `events` (event_id, store_id, impact_estimate). `capacity`: each
    analyst's daily_capacity, in the order given; `assigned_today`: events already assigned to each
    analyst today."""
    ordered = events.sort_values(["impact_estimate", "event_id"], ascending=[False, True], ignore_index=True)
    room = (capacity - assigned_today.reindex(capacity.index).fillna(0).astype(int)).clip(lower=0)
    if strategy == "round_robin":
        analysts = _round_robin(len(ordered), room)
    else:
        shares = _capacity_shares(len(ordered), capacity, room)
        analysts = [a for a in sorted(shares.index) for _ in range(int(shares[a]))]
    taken = ordered.iloc[: len(analysts)].assign(analyst_id=analysts)
    return AssignmentPlan(taken[["event_id", "store_id", "analyst_id"]], list(ordered["event_id"].iloc[len(analysts):]))


def _round_robin(count: int, room: pd.Series) -> list[str]:
    left, out, i = room.copy(), [], 0
    while len(out) < count and left.sum() > 0:
        analyst = room.index[i % len(room)]
        if left[analyst] > 0:
            out.append(analyst)
            left[analyst] -= 1
        i += 1
    return out


def _capacity_shares(count: int, capacity: pd.Series, room: pd.Series) -> pd.Series:
    shares = pd.Series(0, index=capacity.index)
    remaining = count
    while remaining > 0:
        open_ = capacity[(room - shares > 0) & (capacity > 0)]
        if open_.empty:
            break
        portion = largest_remainder(remaining, open_.astype(float)).clip(upper=(room - shares)[open_.index])
        shares[open_.index] += portion
        remaining -= int(portion.sum())
    return shares


def cohort_open_events(events: pd.DataFrame, scope: str, members: pd.DataFrame, assigned: pd.Series) -> pd.DataFrame:
    """The hydrated `events` still active that concern a member of the cohort (its store, one of
    its SKUs, or one of its store x SKU series) and are not yet in `assigned` (event ids)."""
    active = events[(events["event_status"] == "active") & ~events["event_id"].isin(assigned)]
    per_sku = event_sku_rows(active)
    keys = {"store": ["store_id"], "sku": ["sku"], "combo": ["store_id", "sku"]}[scope]
    hits = per_sku.merge(members[keys].drop_duplicates(), on=keys)["event_id"]
    return active[active["event_id"].isin(hits)]


def assigned_today(assignments: pd.DataFrame, now: pd.Timestamp) -> pd.Series:
    """Events assigned to each analyst on `now`'s UTC day."""
    today = assignments[assignments["written_at"].dt.normalize() == now.normalize()]
    return today.groupby("analyst_id")["event_id"].nunique()


def assignment_rows(plan: pd.DataFrame, cohort_id: str, strategy: str, job_id: str | None,
                    now: pd.Timestamp, run_id: str) -> pd.DataFrame:
    """`event_assignments_log` rows for planned assignments (event_id, store_id, analyst_id)."""
    return plan.assign(cohort_id=cohort_id, strategy=strategy, job_id=job_id, written_at=now, run_id=run_id)


def next_job_id(jobs: pd.Series) -> str:
    """The next CAJ-N after the highest job id."""
    numbers = jobs.str.extract(r"^CAJ-(\d+)$")[0].dropna().astype(int)
    return f"CAJ-{int(numbers.max()) + 1 if len(numbers) else 1}"
