import pandas as pd
from dagster import (
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
from mrs_dagster.landing import read_deliveries
from mrs_dagster.resources import MRSConfig, ReplayScope, RunMode, current_series_input, lake_input
from mrs_dagster.stages.frames import concat_rows, replaced_from
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
    a run parses only what landed since the last."""
    run_mode.read_attempt(context.run.run_id)
    if not (mrs.path / "landing" / "sales").is_dir():
        raise Failure(
            f"{mrs.path / 'landing' / 'sales'} does not exist: is MRS_DATA_DIR / data_dir right?", allow_retries=False
        )
    run_id, lake = mrs.current_run_id(), run_mode.lake(mrs)
    ingested = set().union(*(lake.distinct(name, "source_file", run_id) for name in ("unified_sales_data", "unified_sales_data_errors")))
    valid, errors = [], []
    files = 0
    for source_file, rows in read_deliveries(mrs.path, skip=ingested):
        files += 1
        if isinstance(rows, Exception):
            errors.append(unreadable_file(source_file, f"unreadable file: {rows}", run_id))
            continue
        ok, bad = parse_sales_rows(run_mode.limit(rows), source_file, run_id)
        valid.append(ok)
        errors.append(bad)
    unified = concat_rows([UNIFIED_SALES_DATA.empty(), *valid])
    dead = concat_rows([UNIFIED_SALES_DATA_ERRORS.empty(), *errors])
    yield Output(unified, "unified_sales_data", metadata={"files": files, "already_ingested": len(ingested), "rows": len(unified)})
    yield Output(
        dead,
        "unified_sales_data_errors",
        metadata={"rows": len(dead), "sample": MetadataValue.md(dead.head(10).to_markdown(index=False))},
    )


@asset(group_name="ingest", ins={"unified_sales_data": lake_input(0)}, **contract("sales_timeseries_data"))
def sales_timeseries_data(unified_sales_data: pd.DataFrame) -> pd.DataFrame:
    """The sales series per store x SKU x tick and feed_version (the current one is the highest)."""
    return sales_timeseries(unified_sales_data)


@asset(group_name="ingest", ins={"sales_timeseries_data": current_series_input(0)}, **contract("sales_daily_summary"))
def sales_daily_summary(mrs: MRSConfig, run_mode: RunMode, scope: ReplayScope,
                        sales_timeseries_data: pd.DataFrame) -> pd.DataFrame:
    """The current series per store, SKU, UTC day and feed_version: what the stages that need all
    history read. A run scoped from a tick reads the series from that tick's day and keeps the
    earlier days as they were: the deliveries it covers change no earlier tick."""
    summary = daily_summary(sales_timeseries_data)
    if (first_day := scope.window(0)) is not None:
        summary = replaced_from(run_mode.lake(mrs).read("sales_daily_summary", run_id=mrs.current_run_id()),
                                summary, "day", first_day)
    return summary.assign(run_id=mrs.current_run_id())
