import json

import pandas as pd
from dagster import AssetExecutionContext, AssetOut, AssetSpec, MetadataValue, Output, multi_asset

from mrs_dagster.assets.dagster_types import contract, contract_metadata
from mrs_dagster.assets.slo_checks import LAG_CHECKED, finalised_reports, measure_lag
from mrs_dagster.contracts import DATASETS, DEAD_LETTER_TABLES, STAGE_ERRORS
from mrs_dagster.resources import REFRESH_POOL, MRSConfig, ReplayScope, RunMode
from mrs_dagster.stages import slo
from mrs_dagster.stages.frames import replaced_from
from mrs_dagster.stages.series_grid import data_gaps

# Written by slo_alerts_sensor, not by a run: an external asset, shown beside health.
alerts_log = AssetSpec(
    "alerts_log",
    group_name="operations",
    description="SLO alerts raised and cleared by slo_alerts_sensor (seed 001 §11), one row each.",
    metadata=contract_metadata("alerts_log"),
)

_LOGS = [name for name, ds in DATASETS.items()
         if not ds.is_view and name not in DEAD_LETTER_TABLES and name not in ("demo_run_config", "alerts_log")]
_DEAD_LETTERS = {**{name: errors.name for name, errors in STAGE_ERRORS.items()},
                 "unified_sales_data": "unified_sales_data_errors"}


@multi_asset(
    outs={name: AssetOut(group_name="operations", **contract(name)) for name in ("health", "data_gaps")},
    deps=[*_LOGS, "evaluation_versions", "sales_daily_summary"],
    pool=REFRESH_POOL,
)
def health(context: AssetExecutionContext, mrs: MRSConfig, run_mode: RunMode, scope: ReplayScope):
    """The health view (seed 001 §11): per log its newest written_at, rows by status, dead letters,
    degraded share, coverage and lag; and the stores' data gaps. Read on the asset page. A run
    scoped from a tick looks for gaps from that tick's day on and keeps the earlier days' as they were."""
    lake, run_id = run_mode.lake(mrs), mrs.current_run_id()
    reports = finalised_reports(mrs, run_mode)
    rows = []
    for name in _LOGS:
        status = slo.STATUS_COLUMNS.get(name)
        dead = _DEAD_LETTERS.get(name)
        lag = measure_lag(mrs, run_mode, name) if name in LAG_CHECKED else None
        last_written_at = lake.newest(name, "written_at", run_id) if "written_at" in DATASETS[name].columns else None
        rows.append({
            "dataset": name,
            "last_written_at": pd.NaT if last_written_at is None else last_written_at,
            "rows": lake.count(name, run_id),
            "rows_by_status": json.dumps(slo.rows_by_status(name, lake.read(name, run_id=run_id, columns=[status]))
                                         if status else {}),
            "dead_letters": lake.count(dead, run_id) if dead else 0,
            "degraded_share": float(reports["is_degraded"].mean()) if name == "minority_reports_finalised_log" and len(reports) else None,
            "coverage": slo.attribution_coverage(reports) if name == "minority_reports_proposed_attribution_log" else None,
            "lag_minutes": lag.minutes if lag else None,
            "slo_minutes": lag.slo.total_seconds() / 60 if lag else None,
            "slo_met": lag.met if lag else None,
        })
    table = pd.DataFrame(rows).assign(run_id=run_id)
    first_day = scope.window(0)
    # A store's ticks with a row, whatever the row's feed_version, are those of its current series.
    ticks = lake.distinct_rows("sales_timeseries_data", ["store_id", "ts"], run_id, since=first_day)
    stores = lake.read("sales_daily_summary", run_id=run_id, columns=["store_id"])["store_id"].unique()
    gaps = data_gaps(ticks, stores).assign(run_id=run_id) if len(ticks) else DATASETS["data_gaps"].empty()
    if first_day is not None:
        gaps = replaced_from(lake.read("data_gaps", run_id=run_id), gaps, "gap_start", first_day)
    shown = table.drop(columns="run_id").assign(last_written_at=table["last_written_at"].astype(str))
    yield Output(table, "health", metadata={
        "health": MetadataValue.md(shown.to_markdown(index=False)),
        "dead_letters": int(table["dead_letters"].sum()),
        "degraded_share": float(reports["is_degraded"].mean()) if len(reports) else 0.0,
        "attribution_coverage": slo.attribution_coverage(reports),
        "logs_breaching_lag_slo": int(table["slo_met"].eq(False).sum()),
        "data_gaps": len(gaps),
    })
    yield Output(gaps, "data_gaps", metadata={
        "data_gaps": len(gaps),
        "stores": MetadataValue.md(gaps.drop(columns="run_id").to_markdown(index=False) if len(gaps) else "none"),
    })
