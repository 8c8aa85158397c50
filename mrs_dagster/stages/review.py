"""Which reports the fixed-cadence re-review (`review_reports_scheduler`, seed 001 §10) re-evaluates."""

from __future__ import annotations

import pandas as pd

LOW_CONFIDENCE = 0.5
STALE_AFTER = pd.Timedelta(days=1)


def due_for_review(reports: pd.DataFrame, at: pd.Timestamp, low_confidence: float = LOW_CONFIDENCE,
                   stale_after: pd.Timedelta = STALE_AFTER) -> list[str]:
    """Unreviewed, not superseded reports (one consolidated row each) with a confidence below
    `low_confidence` (or none), or of a still-active event with a proposal older than `stale_after`
    in data time at `at`."""
    open_ = reports["verdict"].isna() & reports["report_status"].ne("superseded")
    low = reports["confidence_score"].isna() | (reports["confidence_score"] < low_confidence)
    stale = reports["event_status"].eq("active") & (reports["written_at"] < at - stale_after)
    return sorted(reports.loc[open_ & (low | stale), "report_id"])
