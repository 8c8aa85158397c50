"""Alerting (seed 001 §11): one alert per breach, not one per evaluation.

A breach opens when a check's latest evaluation fails and it is not already open; it clears when
the check's latest evaluation passes. `open_breaches` (check -> alert_id) is all the state there
is; the caller keeps it between evaluations (the sensor's cursor).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd

from mrs_dagster.stages.identity import stable_id


@dataclass(frozen=True)
class CheckState:
    asset: str
    check_name: str
    passed: bool
    severity: str
    detail: dict
    evaluated_at: pd.Timestamp

    @property
    def check(self) -> str:
        return f"{self.asset}.{self.check_name}"


def alert_transitions(
    open_breaches: dict[str, str], states: list[CheckState], run_id: str
) -> tuple[pd.DataFrame, dict[str, str]]:
    """(alerts_log rows for the breaches that opened or cleared, the breaches open after them)."""
    rows, still_open = [], dict(open_breaches)
    for state in states:
        if not state.passed and state.check not in still_open:
            alert_id = stable_id(state.check, state.evaluated_at)
            still_open[state.check] = alert_id
            rows.append(_row(alert_id, state, "raised", run_id))
        elif state.passed and state.check in still_open:
            rows.append(_row(still_open.pop(state.check), state, "cleared", run_id))
    columns = ["alert_id", "asset", "check_name", "status", "severity", "detail", "written_at", "run_id"]
    return pd.DataFrame(rows, columns=columns), still_open


def _row(alert_id: str, state: CheckState, status: str, run_id: str) -> dict:
    return {
        "alert_id": alert_id, "asset": state.asset, "check_name": state.check_name, "status": status,
        "severity": state.severity, "detail": json.dumps(state.detail, default=str),
        "written_at": state.evaluated_at, "run_id": run_id,
    }
