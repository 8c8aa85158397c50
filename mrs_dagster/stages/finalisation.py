"""Finalisation (MRFL) and the report half of hydrate: one consolidated row per report (seed 001 §7).

Field groups, each from one source in a fixed precedence chain, later sources overriding earlier:
detection (`detected`) → clustering (`clustered`) → attribution (`attribution`) → cohort
(`cohort`) → UI edits (`ui`). `source_used_<group>` names the log that gave the group; when no
source can, the group stays NULL: never guessed. A log that is down (None) or gives a report no
usable row tags the row `is_degraded` with a reason code:

    MRCL_down         clustering missing (or failed: cluster_id NULL)
    MRPAL_down        attribution missing (or failed: confidence NULL, 'attribution unavailable')
    MRCH_down         cohorting (MRCH) missing: no event for the report
    MEEL_down         the ended log missing while the report's event has ended
    EDITS_down        user_edits_log unreadable
    EVENT_EDITS_down  user_minority_events_edits_log unreadable

An edits log that has never been written, or is empty, is not down: nobody has edited yet.
`report_status` is `superseded` for a report the re-evaluated history (corrected data, seed 001 §12,
or updated models, §10) no longer has (it is also degraded, reason `SUPERSEDED`, and keeps its last
proposal and analysts' verdicts), else
`finalisation_degraded_<first reason>` when degraded, else `reviewed` when an analyst gave a
verdict, else `proposed`. With `versions` given, every log is read as its current rows
(stages.versions); `correction_status` says what a re-evaluation did to the report. `written_at` is the newest `written_at` of the rows
behind the consolidated row, so consolidating logs read as of T gives the state at T.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mrs_dagster.contracts import (
    MINORITY_REPORTS_FINALISED_LOG,
    REEVALUATION_RESOLUTIONS,
    USER_EDITS_LOG,
    USER_MINORITY_EVENTS_EDITS_LOG,
)
from mrs_dagster.stages.cohorting import CohortingResult
from mrs_dagster.stages.frames import text_positions
from mrs_dagster.stages.hydrate import hydrate_events, latest, report_events
from mrs_dagster.stages.versions import corrected_spans, current_rows, version_at


@dataclass(frozen=True)
class ReportLogs:
    """The logs behind a consolidated report; None means the log is down."""

    detected: pd.DataFrame
    clustered: pd.DataFrame | None
    attribution: pd.DataFrame | None
    cohorted: pd.DataFrame | None  # MRCH: the event state per tick
    ended: pd.DataFrame | None
    report_edits: pd.DataFrame | None
    event_edits: pd.DataFrame | None
    versions: pd.DataFrame | None = None  # evaluation_versions; None: never re-evaluated

    def current(self) -> ReportLogs:
        """The logs as their current rows, plus every row of the reports the re-evaluated history no
        longer has (their last state is what the superseded report shows), and those reports."""
        if self.versions is None or self.versions.empty:
            return self
        current = current_rows(self.detected, self.versions)
        # Not `isin`: pandas makes an Arrow scalar of each of the current rows' ids (7.5 s of a 9.7 s
        # hydrate on 213,006 report rows).
        gone = text_positions(self.detected["report_id"], current["report_id"].unique()) < 0
        superseded = self.detected.loc[gone, "report_id"].unique()

        def per_report(log: pd.DataFrame | None) -> pd.DataFrame | None:
            if log is None:
                return None
            return pd.concat([current_rows(log, self.versions), log[log["report_id"].isin(superseded)]])

        return ReportLogs(
            detected=per_report(self.detected),
            clustered=per_report(self.clustered),
            attribution=per_report(self.attribution),
            cohorted=None if self.cohorted is None else current_rows(self.cohorted, self.versions),
            ended=None if self.ended is None else current_rows(self.ended, self.versions),
            report_edits=self.report_edits,
            event_edits=self.event_edits,
            versions=self.versions,
        )


_DETECTION = ["report_id", "store_id", "sku", "first_detected_from", "window_start", "window_end", "direction",
              "observed_sales_total", "baseline_sales_total", "attributed_sales_total", "severity_score",
              "detection_mode", "written_at", "version"]
_EDIT_FIELDS = ["verdict", "cause_override", "note", "analyst_id"]


def finalise_reports(logs: ReportLogs, run_id: str) -> pd.DataFrame:
    """One consolidated row per detected report (MRFL / hydrated minority_reports)."""
    if logs.detected.empty:
        return MINORITY_REPORTS_FINALISED_LOG.empty()
    all_detected = logs.detected
    logs = logs.current()
    r = latest(logs.detected, "report_id")[_DETECTION].reset_index(drop=True)
    r["source_used_detection"] = "detected"
    r["correction_status"] = _correction_status(r, all_detected, logs.versions)
    stamps = [r["written_at"]]
    reasons = pd.DataFrame(index=r.index)

    cluster = _latest_for(r, logs.clustered, ["cluster_id", "cluster_label"])
    r["cluster_id"], r["cluster_label"] = cluster["cluster_id"], cluster["cluster_label"]
    r["source_used_cluster"] = np.where(r["cluster_id"].notna(), "clustered", None)
    reasons["MRCL_down"] = r["cluster_id"].isna()
    stamps.append(cluster["written_at"])

    proposal = _latest_for(r, logs.attribution, ["proposed_cause", "confidence_score"])
    r["proposed_cause"], r["confidence_score"] = proposal["proposed_cause"], proposal["confidence_score"]
    reasons["MRPAL_down"] = r["confidence_score"].isna()
    stamps.append(proposal["written_at"])

    if logs.cohorted is not None and not logs.cohorted.empty:
        events = latest(logs.cohorted, "report_id").rename(columns={"report_id": "event_id"})
        r["event_id"] = _report_events(r, events, logs.ended).to_numpy()
        event = _aligned(events.set_index("event_id"), r["event_id"])
        r["event_status"] = event["event_status"]
        stamps.append(event["written_at"])
    else:
        r["event_id"], r["event_status"] = None, None
    r["source_used_event"] = np.where(r["event_id"].notna(), "cohort", None)
    reasons["MRCH_down"] = r["event_id"].isna()

    if logs.ended is not None:
        closure = _aligned(latest(logs.ended, "event_id").set_index("event_id"), r["event_id"])
        r["resolution_reason"] = closure["resolution_reason"]
        stamps.append(closure["written_at"])
        reasons["MEEL_down"] = r["event_status"].eq("ended") & r["resolution_reason"].isna()
    else:
        r["resolution_reason"] = None
        reasons["MEEL_down"] = True

    edits = _edits_by_report(r, logs.report_edits, logs.event_edits)
    for field in _EDIT_FIELDS:
        r[field] = edits[field]
    stamps.append(edits["written_at"])
    r["cause"] = r["cause_override"].where(r["cause_override"].notna(), r["proposed_cause"])
    r["source_used_cause"] = np.select(
        [r["cause_override"].notna(), r["proposed_cause"].notna()], ["ui", "attribution"], None
    )
    r["source_used_review"] = np.where(edits["written_at"].notna(), "ui", None)
    reasons["EDITS_down"] = logs.report_edits is None
    reasons["EVENT_EDITS_down"] = logs.event_edits is None
    reasons["SUPERSEDED"] = r["correction_status"].eq("superseded")

    r["degraded_reasons"] = reasons.astype(bool).apply(lambda row: ",".join(row.index[row.to_numpy()]), axis=1)
    r["is_degraded"] = r["degraded_reasons"].ne("")
    r["report_status"] = np.select(
        [reasons["SUPERSEDED"], r["is_degraded"], r["verdict"].notna()],
        ["superseded", "finalisation_degraded_" + r["degraded_reasons"].str.split(",").str[0], "reviewed"],
        "proposed",
    )
    r["written_at"] = pd.concat(stamps, axis=1).max(axis=1)
    return r.drop(columns="cause_override").assign(run_id=run_id)


def _correction_status(r: pd.DataFrame, all_detected: pd.DataFrame, versions: pd.DataFrame | None) -> pd.Series:
    """Per consolidated report: superseded (no current row), revised (current and superseded rows),
    new_after_correction (only current rows, from a re-evaluation's span), else NULL."""
    status = pd.Series(None, index=r.index, dtype=object)
    if versions is None or versions.empty:
        return status
    current = r["version"].to_numpy() == version_at(r, versions)
    older = all_detected.groupby("report_id")["version"].min().reindex(r["report_id"]).to_numpy() < r["version"].to_numpy()
    spans = corrected_spans(versions).merge(r[["report_id", "store_id", "window_start", "window_end"]], on="store_id")
    overlapping = spans[(spans["effective_from"] <= spans["window_end"]) & (spans["window_start"] <= spans["effective_to"])]
    from_resend = r["report_id"].isin(overlapping["report_id"]).to_numpy()
    status[~current] = "superseded"
    status[current & older] = "revised"
    status[current & ~older & from_resend & (r["version"].to_numpy() > 1)] = "new_after_correction"
    return status


def _report_events(r: pd.DataFrame, events: pd.DataFrame, ended: pd.DataFrame | None) -> pd.Series:
    """Each report's event. An event ended by a re-evaluation keeps its window, which the
    recomputed events of its store may overlap: a current report belongs to a live event, a
    superseded one to the event the re-evaluation ended (else to whichever contains it)."""
    corrected = set() if ended is None else set(ended.loc[ended["resolution_reason"].isin(REEVALUATION_RESOLUTIONS), "event_id"])
    gone = events["event_id"].isin(corrected)
    live_event = report_events(r, events[~gone])
    old_event = report_events(r, events[gone]).fillna(report_events(r, events))
    return old_event.where(r["correction_status"].eq("superseded"), live_event)


def _aligned(rows: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
    """`rows` (indexed by id) looked up for each of `ids`, indexed like `ids`."""
    return rows.reindex(ids.to_numpy()).reset_index(drop=True).set_axis(ids.index)


def _nulls(index: pd.Index, columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(None, index=index, dtype=object) for c in columns})
    frame["written_at"] = pd.Series(pd.NaT, index=index, dtype="datetime64[ns, UTC]")
    return frame


def _latest_for(r: pd.DataFrame, log: pd.DataFrame | None, columns: list[str]) -> pd.DataFrame:
    """Each report's latest row of a per-report log (NULLs where the log is down or has none)."""
    if log is None or log.empty:
        return _nulls(r.index, columns)
    return _aligned(latest(log, "report_id").set_index("report_id"), r["report_id"])[[*columns, "written_at"]]


def _edits_by_report(r: pd.DataFrame, report_edits: pd.DataFrame | None, event_edits: pd.DataFrame | None) -> pd.DataFrame:
    """Per report, each edit field's latest non-NULL value over its own edits and its event's."""
    frames = []
    if report_edits is not None:
        frames.append(report_edits[["report_id", *_EDIT_FIELDS, "written_at"]])
    if event_edits is not None:
        members = r[["report_id", "event_id"]].dropna()
        frames.append(event_edits.merge(members, on="event_id")[["report_id", *_EDIT_FIELDS, "written_at"]])
    frames = [f for f in frames if not f.empty]
    if not frames:
        return _nulls(r.index, _EDIT_FIELDS)
    edits = pd.concat(frames).sort_values("written_at", kind="stable").groupby("report_id").last()
    return _aligned(edits, r["report_id"])


def machine_events(
    detected: pd.DataFrame, clustered: pd.DataFrame, attribution: pd.DataFrame, cohorting: CohortingResult, run_id: str
) -> pd.DataFrame:
    """minority_events as hydrated straight from the machine's stage outputs, before any edit."""
    logs = ReportLogs(detected, clustered, attribution, cohorting.cohorted, cohorting.ended,
                      USER_EDITS_LOG.empty(), USER_MINORITY_EVENTS_EDITS_LOG.empty())
    return hydrate_events(finalise_reports(logs, run_id), cohorting.cohorted, None, run_id)
