"""Restatement: how a per-report log takes back what it said about the past (seed 001 §10).

Logs are append-only and a row's key is (report, tick, data version), so a later recomputation
that differs for a past tick (a cluster split or merged, a campaign that landed after the
attribution) cannot replace the row. It is restated instead: the report's newest recomputed row is
appended again, written at the re-evaluation tick (the newest tick of the data), where hydrate,
which takes the newest row, picks it up, and hydrate as of an earlier time still shows what was
said then. A report whose newest row is already at that tick gets its correction with its next
tick.
"""

from __future__ import annotations

import pandas as pd

from mrs_dagster.contracts import REPORT_TICK_COLUMNS
from mrs_dagster.stages.hydrate import latest


def changed_reports(computed: pd.DataFrame, logged: pd.DataFrame, fields: list[str]) -> set[str]:
    """Reports whose newest logged row says something else in `fields` than the recomputation of
    the same tick."""
    if computed.empty or logged.empty:
        return set()
    said = latest(logged, "report_id")[[*REPORT_TICK_COLUMNS, *fields]]
    now = said[REPORT_TICK_COLUMNS].merge(computed[[*REPORT_TICK_COLUMNS, *fields]], on=REPORT_TICK_COLUMNS)
    said = said.set_index(REPORT_TICK_COLUMNS).loc[now.set_index(REPORT_TICK_COLUMNS).index]
    differs = (said[fields].astype(object).where(said[fields].notna(), None).to_numpy()
               != now[fields].astype(object).where(now[fields].notna(), None).to_numpy()).any(axis=1)
    return set(now.loc[differs, "report_id"])


def restate(computed: pd.DataFrame, report_ids: set[str], at: pd.Timestamp) -> pd.DataFrame:
    """The newest recomputed row of each of `report_ids`, written at `at` (none for a report whose
    newest row is already at `at`)."""
    rows = latest(computed[computed["report_id"].isin(report_ids)], "report_id")
    return rows[rows["written_at"] < at].assign(written_at=at)
