"""Asset checks every log gets (issue 4): its pandera contract, the uniqueness of its idempotent
key, and no NULL in required columns. All three are blocking: a log that breaks its contract
stops the assets downstream of it in the same run."""

from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSpec, MetadataValue, multi_asset_check

from mrs_dagster.contracts import DATASETS, DEAD_LETTER_TABLES, STAGE_ERRORS, contract_report
from mrs_dagster.partitions import checked_shard
from mrs_dagster.resources import MRSConfig, ReplayScope, RunMode

CHECKS = ("contract", "idempotent_key_unique", "required_columns_not_null")


def contract_checks(name: str):
    """The three blocking checks of log `name`, over the rows of the current run_id (of the run's
    store shard, for a sharded log in a sharded run; written from the scope's `since` on, in a run
    scoped so: the rows it can have written, so an incremental run checks its new day, not all)."""
    dataset = DATASETS[name]
    timed = "written_at" in dataset.columns

    @multi_asset_check(
        name=f"{name}_contract_checks",
        specs=[AssetCheckSpec(check, asset=name, blocking=True, description=_DESCRIPTIONS[check].format(
            key=", ".join(dataset.key))) for check in CHECKS],
    )
    def _checks(context: AssetCheckExecutionContext, mrs: MRSConfig, run_mode: RunMode, scope: ReplayScope):
        lake = run_mode.lake(mrs)
        rows = lake.read(name, run_id=mrs.current_run_id(), shard=checked_shard(context, name),
                         since=scope.since if timed else None)
        report = contract_report(dataset, rows)
        sample = report.contract_failures.head(10)
        errors = STAGE_ERRORS.get(name)
        dead = len(lake.read(errors.name, run_id=mrs.current_run_id())) if errors and lake.exists(errors.name) else 0
        yield AssetCheckResult(
            asset_key=name, check_name="contract", passed=report.contract_failures.empty and dead == 0,
            metadata={"rows": len(rows), "failures": len(report.contract_failures), "dead_letters": dead,
                      "sample": MetadataValue.md(sample.to_markdown(index=False) if len(sample) else "none")},
        )
        yield AssetCheckResult(
            asset_key=name, check_name="idempotent_key_unique", passed=report.duplicate_keys == 0,
            metadata={"rows": len(rows), "duplicate_rows": report.duplicate_keys},
        )
        yield AssetCheckResult(
            asset_key=name, check_name="required_columns_not_null", passed=not report.required_nulls,
            metadata={"rows": len(rows), "null_counts": MetadataValue.json(report.required_nulls)},
        )

    return _checks


_DESCRIPTIONS = {
    "contract": "Every row of this run_id passes the dataset's pandera contract (contracts.py) and its stage "
    "wrote no dead letters.",
    "idempotent_key_unique": "No two rows share the idempotent key ({key}).",
    "required_columns_not_null": "No NULL in a column the contract does not allow to be NULL.",
}

LOG_CHECKS = [contract_checks(name) for name, ds in DATASETS.items() if not ds.is_view and name not in DEAD_LETTER_TABLES]
