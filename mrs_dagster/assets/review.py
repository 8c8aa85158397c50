import pandas as pd
from dagster import AssetExecutionContext, AssetOut, AssetSpec, Config, Output, asset, multi_asset

from mrs_dagster.assets.dagster_types import contract, contract_metadata
from mrs_dagster.hydration import hydrate, read_report_logs
from mrs_dagster.resources import NON_CRITICAL_INPUTS, REFRESH_POOL, MRSConfig, RunMode
from mrs_dagster.stages.finalisation import finalise_reports
from mrs_dagster.stages.timestamps import as_utc

# Written by analysts through `mrs edit`, not by a Dagster run: external assets, shown for lineage.
EDITS_LOGS = [
    AssetSpec(
        name,
        group_name="review",
        description=f"{description} Appended by `mrs edit {kind}`; an edit that fails validation writes nothing.",
        metadata=contract_metadata(name),
    )
    for name, kind, description in (
        ("user_edits_log", "report", "Analysts' verdicts, cause overrides and notes on minority reports."),
        ("user_minority_events_edits_log", "event", "Analysts' verdicts, cause overrides and notes on minority events."),
    )
]


class HydrateConfig(Config):
    as_of: str | None = None
    """Rebuild the state as of this written_at (ISO timestamp, naive = UTC); default: now."""


_CONSOLIDATED_FROM = [
    "minority_reports_detected_log",
    "minority_reports_clustered_log",
    "minority_reports_proposed_attribution_log",
    "minority_reports_cohorted_log",
    "minority_events_ended_log",
    *EDITS_LOGS,
]
# Hydrated events also show who each is assigned to.
_HYDRATED_FROM = [*_CONSOLIDATED_FROM, "event_assignments_log"]


def _dropped(run_mode: RunMode) -> set[str]:
    return {name for name in NON_CRITICAL_INPUTS if run_mode.dropped(name)}


@asset(group_name="review", deps=_CONSOLIDATED_FROM, pool=REFRESH_POOL, **contract("minority_reports_finalised_log"))
def minority_reports_finalised_log(context: AssetExecutionContext, mrs: MRSConfig, run_mode: RunMode) -> pd.DataFrame:
    """MRFL: one consolidated row per detected report with provenance and degradation; always a
    valid row for every report, whatever is down (seed 001 §7)."""
    run_id = mrs.current_run_id()
    logs = read_report_logs(run_mode.lake(mrs), run_id, down=_dropped(run_mode))
    finalised = finalise_reports(logs, run_id)
    context.add_output_metadata(
        {"reports": len(finalised), "degraded_reports": int(finalised["is_degraded"].sum())}
    )
    return finalised


@multi_asset(
    outs={name: AssetOut(group_name="review", **contract(name)) for name in ("minority_reports", "minority_events")},
    deps=["minority_reports_finalised_log", *_HYDRATED_FROM],
    pool=REFRESH_POOL,
)
def hydrated_views(mrs: MRSConfig, run_mode: RunMode, config: HydrateConfig):
    """Hydrate, the only current-state read: minority_reports and minority_events, filtered to the
    run_id of demo_run_config, as of `as_of` when given."""
    as_of = as_utc(config.as_of) if config.as_of else None
    reports, events = hydrate(run_mode.lake(mrs), mrs.current_run_id(), as_of, down=_dropped(run_mode))
    yield Output(reports, "minority_reports", metadata={"reports": len(reports), "as_of": config.as_of or "now"})
    yield Output(events, "minority_events", metadata={"events": len(events), "as_of": config.as_of or "now"})
