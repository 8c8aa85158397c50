from collections.abc import Iterator

import pandas as pd
from dagster import (
    Any,
    AssetExecutionContext,
    AssetOut,
    AssetSpec,
    Backoff,
    Failure,
    MetadataValue,
    Output,
    RetryPolicy,
    asset,
    multi_asset,
)

from mrs_dagster.assets.dagster_types import contract
from mrs_dagster.contracts import UNIFIED_SALES_DATA, UNIFIED_SALES_DATA_ERRORS
from mrs_dagster.landing import read_deliveries, source_files
from mrs_dagster.resources import MRSConfig, ReplayScope, RunMode, current_series_input, delivery_batches_input
from mrs_dagster.stages.frames import concat_rows, in_batches, replaced_from
from mrs_dagster.stages.ingest import daily_summary, parse_sales_rows, sales_timeseries, unreadable_file

reference_data = AssetSpec(
    "reference_data",
    group_name="landing",
    description="Reference files in <data dir>/reference/: stores, skus, campaigns, context_events, analysts. "
    "Optional: a missing or broken file degrades what uses it, never stops the pipeline.",
)

# Transient read failures: 3 retries after 0.5 s, 1 s, 2 s.
READ_RETRY_POLICY = RetryPolicy(max_retries=3, delay=0.5, backoff=Backoff.EXPONENTIAL)

landing_sales = AssetSpec(
    "landing_sales",
    group_name="landing",
    description="Retailer deliveries in <data dir>/landing/sales/ (*.csv, *.parquet), immutable once landed.",
)


@multi_asset(
    outs={
        "unified_sales_data": AssetOut(group_name="ingest", **contract("unified_sales_data")),
        "unified_sales_data_errors": AssetOut(group_name="ingest", **contract("unified_sales_data_errors")),
    },
    deps=[landing_sales, "demo_run_config"],
    retry_policy=READ_RETRY_POLICY,
)
def unified_sales_data(context: AssetExecutionContext, mrs: MRSConfig, run_mode: RunMode):
    """Every landed row, parsed tolerantly; rows that cannot be parsed go to the dead letters. A
    transient read failure (a flaky filesystem) is retried with exponential backoff. Deliveries are
    immutable once landed, so a delivery already in either log (by `source_file`) is not read again:
    a run parses only what landed since the last.

    The rows go to the lake in batches of whole deliveries (about `RunMode.batch_rows` rows, one
    commit each), parsed as the lake takes them, so a run holds a batch, not every delivery. A
    batch's dead letters are committed right after its rows: a run that fails part way keeps the
    batches it committed, and its retry reads only the other deliveries (a process killed between
    the two commits loses that batch's dead letters, never a valid row). The dead letters' output
    then repeats the run's dead letters (its append adds none) for their count and sample."""
    run_mode.read_attempt(context.run.run_id)
    if not (mrs.path / "landing" / "sales").is_dir():
        raise Failure(
            f"{mrs.path / 'landing' / 'sales'} does not exist: is MRS_DATA_DIR / data_dir right?", allow_retries=False
        )
    run_id, lake = mrs.current_run_id(), run_mode.lake(mrs)
    ingested = set().union(*(lake.distinct(name, "source_file", run_id) for name in ("unified_sales_data", "unified_sales_data_errors")))
    deliveries, errors = source_files(mrs.path, skip=ingested), []

    def parsed() -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
        for source_file, rows in read_deliveries(mrs.path, deliveries):
            if isinstance(rows, Exception):
                yield UNIFIED_SALES_DATA.empty(), unreadable_file(source_file, f"unreadable file: {rows}", run_id)
            else:
                yield parse_sales_rows(run_mode.limit(rows), source_file, run_id)

    def batches() -> Iterator[pd.DataFrame]:
        for batch in in_batches(parsed(), run_mode.batch_rows, size=lambda delivery: len(delivery[0])):
            yield concat_rows([UNIFIED_SALES_DATA.empty(), *(valid for valid, _ in batch)])
            invalid = concat_rows([UNIFIED_SALES_DATA_ERRORS.empty(), *(invalid for _, invalid in batch)])
            lake.append("unified_sales_data_errors", invalid)
            errors.append(invalid)

    # The IO manager consumes `batches()` before this body resumes, so `errors` is complete below.
    yield Output(batches(), "unified_sales_data",
                 metadata={"files": len(deliveries), "already_ingested": len(ingested)})
    dead = concat_rows([UNIFIED_SALES_DATA_ERRORS.empty(), *errors])
    yield Output(
        dead,
        "unified_sales_data_errors",
        metadata={"rows": len(dead), "sample": MetadataValue.md(dead.head(10).to_markdown(index=False))},
    )


# An iterator of frames (appended one at a time), which Dagster cannot type; a `map`, as a returned
# generator would be taken for the step's events.
@asset(group_name="ingest", ins={"unified_sales_data": delivery_batches_input(0)}, dagster_type=Any,
       **contract("sales_timeseries_data"))
def sales_timeseries_data(unified_sales_data: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """The sales series per store x SKU x tick and feed_version (the current one is the highest),
    made and appended a batch of deliveries at a time. Within a feed_version the last landed line
    wins: within a batch by `sales_timeseries`; across batches as the newest deliveries come first
    and an append keeps the row of a key stored first, so a tick sent in two deliveries takes the
    later's, as one pass over all of them would."""
    return map(sales_timeseries, unified_sales_data)


@asset(group_name="ingest", ins={"sales_timeseries_data": current_series_input(0)}, **contract("sales_daily_summary"))
def sales_daily_summary(mrs: MRSConfig, run_mode: RunMode, scope: ReplayScope,
                        sales_timeseries_data: pd.DataFrame) -> pd.DataFrame:
    """The current series per store, SKU, UTC day and feed_version: what the stages that need all
    history read. The series is read whole (of the run's store shard, in a sharded run), as the
    baseline reads it next: a run that is not scoped reads and orders it once for both, where a
    batch of stores at a time read it a second time (2-3 s on 8.9 million rows). A run scoped
    from a tick reads the series from that tick's day and keeps the earlier days as they were: the
    deliveries it covers change no earlier tick."""
    summary = daily_summary(sales_timeseries_data)
    if (first_day := scope.window(0)) is not None:
        summary = replaced_from(run_mode.lake(mrs).read("sales_daily_summary", run_id=mrs.current_run_id()),
                                summary, "day", first_day)
    return summary.assign(run_id=mrs.current_run_id())
