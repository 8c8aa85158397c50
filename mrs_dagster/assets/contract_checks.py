"""Asset checks every log gets (issue 4): its pandera contract, the uniqueness of its idempotent
key, and no NULL in required columns. All three are blocking: a log that breaks its contract
stops the assets downstream of it in the same run."""

from dataclasses import replace

import pandas as pd
from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSpec, MetadataValue, multi_asset_check

from mrs_dagster.contracts import (
    DATASETS,
    DEAD_LETTER_TABLES,
    STAGE_ERRORS,
    TS,
    Dataset,
    contract_report,
    duplicate_keys,
    merged_report,
)
from mrs_dagster.lake import Lake
from mrs_dagster.partitions import checked_shard
from mrs_dagster.resources import MRSConfig, ReplayScope, RunMode
from mrs_dagster.stages.shards import StoreShard

CHECKS = ("contract", "idempotent_key_unique", "required_columns_not_null")


def contract_checks(name: str):
    """The three blocking checks of log `name`, over the rows of the current run_id (of the run's
    store shard, for a sharded log in a sharded run; written from the scope's `since` on, in a run
    scoped so: the rows it can have written, so an incremental run checks its new day, not all),
    read a part at a time (`_parts`), so a log of tens of millions of rows is never held whole."""
    dataset = DATASETS[name]
    timed = "written_at" in dataset.columns

    @multi_asset_check(
        name=f"{name}_contract_checks",
        specs=[AssetCheckSpec(check, asset=name, blocking=True, description=_DESCRIPTIONS[check].format(
            key=", ".join(dataset.key))) for check in CHECKS],
    )
    def _checks(context: AssetCheckExecutionContext, mrs: MRSConfig, run_mode: RunMode, scope: ReplayScope):
        lake, run_id, since = run_mode.lake(mrs), mrs.current_run_id(), scope.since if timed else None
        parts = _parts(lake, dataset, checked_shard(context, name), run_mode.batch_rows, run_id, since)
        # Two batches of stores can share a key without a store in it (spans of a key's time never do).
        keys_span_parts = len(parts) > 1 and "shard" in parts[0] and "store_id" not in dataset.key
        checked, reports = 0, []
        for part in parts:
            rows = lake.read(name, run_id=run_id, since=since, **part)
            checked += len(rows)
            reports.append(contract_report(dataset, rows, count_duplicates=not keys_span_parts))
        report = merged_report(reports)
        if keys_span_parts:
            keys = lake.read(name, run_id=run_id, since=since, columns=list(dataset.key))
            report = replace(report, duplicate_keys=duplicate_keys(dataset, keys))
        sample = report.contract_failures.head(10)
        errors = STAGE_ERRORS.get(name)
        dead = len(lake.read(errors.name, run_id=mrs.current_run_id())) if errors and lake.exists(errors.name) else 0
        yield AssetCheckResult(
            asset_key=name, check_name="contract", passed=report.contract_failures.empty and dead == 0,
            metadata={"rows": checked, "read_in_parts": len(parts), "failures": len(report.contract_failures),
                      "dead_letters": dead,
                      "sample": MetadataValue.md(sample.to_markdown(index=False) if len(sample) else "none")},
        )
        yield AssetCheckResult(
            asset_key=name, check_name="idempotent_key_unique", passed=report.duplicate_keys == 0,
            metadata={"rows": checked, "duplicate_rows": report.duplicate_keys},
        )
        yield AssetCheckResult(
            asset_key=name, check_name="required_columns_not_null", passed=not report.required_nulls,
            metadata={"rows": checked, "null_counts": MetadataValue.json(report.required_nulls)},
        )

    return _checks


def _parts(lake: Lake, dataset: Dataset, shard: StoreShard | None, batch_rows: int, run_id: str,
           since: pd.Timestamp | None) -> list[dict]:
    """What the checks of a log read at a time, as `Lake.read` filters: the run's store shard; or,
    when the log is written in order of a time or of its deliveries and that is part of its key
    (no key spans two parts), spans of about `batch_rows` rows of that time (a span reads only its
    row groups) or batches of whole deliveries (a batch reads only its files); or batches of
    stores, for a big log whose every row has a store (each read decodes the whole table); else
    all rows."""
    if shard is not None:
        return [{"shard": shard}]
    first = dataset.sort_by[0] if dataset.sort_by else None
    if first in dataset.key and str(dataset.schema.columns[first].dtype) == TS:
        spans = lake.time_batches(dataset.name, first, batch_rows, run_id, since)
        if spans is not None:
            return [{"span": span} for span in spans] if len(spans) > 1 else [{}]
    if first in dataset.key and first == "source_file":
        batches = lake.delivery_batches(dataset.name, batch_rows, run_id, since)
        return [{"source_files": batch} for batch in batches] if len(batches) > 1 else [{}]
    store_id = dataset.schema.columns.get("store_id")
    batches = lake.store_batches(dataset.name, batch_rows) if store_id is not None and not store_id.nullable else []
    return [{"shard": batch} for batch in batches] if len(batches) > 1 else [{}]


_DESCRIPTIONS = {
    "contract": "Every row of this run_id passes the dataset's pandera contract (contracts.py) and its stage "
    "wrote no dead letters.",
    "idempotent_key_unique": "No two rows share the idempotent key ({key}).",
    "required_columns_not_null": "No NULL in a column the contract does not allow to be NULL.",
}

LOG_CHECKS = [contract_checks(name) for name, ds in DATASETS.items() if not ds.is_view and name not in DEAD_LETTER_TABLES]
