"""Cohort membership as a log of generations: members added and removed, replayed to any
generation; and a static cohort's progress (seed 004)."""

from __future__ import annotations

import pandas as pd

from mrs_dagster.contracts import COHORT_MEMBERSHIP_LOG
from mrs_dagster.stages.frames import concat_rows

MEMBER_KEY = ["entity_type", "member_id"]
MEMBER_COLUMNS = [*MEMBER_KEY, "store_id", "sku"]


def current_members(log: pd.DataFrame, cohort_id: str) -> tuple[int, pd.DataFrame]:
    """(the cohort's newest generation, 0 if none; its members) from `cohort_membership_log` rows."""
    rows = log[log["cohort_id"] == cohort_id]
    if rows.empty:
        return 0, pd.DataFrame(columns=MEMBER_COLUMNS)
    last = rows.sort_values("generation", kind="stable").drop_duplicates(MEMBER_KEY, keep="last")
    members = last[last["change"] == "added"][MEMBER_COLUMNS].sort_values(MEMBER_KEY, ignore_index=True)
    return int(rows["generation"].max()), members


def membership_changes(current: pd.DataFrame, members: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(added, removed) members going from `current` to `members`."""
    def absent(frame: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
        keys = other[MEMBER_KEY].assign(_present=True)
        merged = frame[MEMBER_COLUMNS].merge(keys, on=MEMBER_KEY, how="left")
        return merged[merged["_present"].isna()][MEMBER_COLUMNS]
    return absent(members, current), absent(current, members)


def generation_rows(cohort_id: str, generation: int, added: pd.DataFrame, removed: pd.DataFrame,
                    written_at: pd.Timestamp, run_id: str) -> pd.DataFrame:
    """The `cohort_membership_log` rows of one generation."""
    rows = concat_rows([added.assign(change="added"), removed.assign(change="removed")])
    if rows.empty:
        return COHORT_MEMBERSHIP_LOG.empty()
    rows = rows.assign(cohort_id=cohort_id, generation=generation, written_at=written_at, run_id=run_id)
    return rows.astype(object).where(rows.notna(), None)[COHORT_MEMBERSHIP_LOG.columns]


def cohort_progress(members: pd.DataFrame, matching_ids: set[str]) -> dict:
    """Seed 004's static cohort progress: of the frozen `members`, how many still match the rules
    now (`matching_ids`: the member_ids that do) and how many diverged. `progress_percent` is the
    share that diverged: for a static cohort worked as a list (stores to fix, series to clean up),
    members leaving the rule is the progress."""
    total = len(members)
    still = int(members["member_id"].isin(matching_ids).sum())
    return {"total": total, "still_matching": still, "diverged": total - still,
            "progress_percent": round(100.0 * (total - still) / total, 1) if total else 0.0}
