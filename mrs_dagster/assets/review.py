from dagster import AssetSpec

from mrs_dagster.assets.dagster_types import contract_metadata

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
