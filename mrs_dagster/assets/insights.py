"""What the data means (seed 003): insights ranked by money at stake, segment trends, and the
dashboard that shows both with the health panel."""

import pandas as pd
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from mrs_dagster.assets.dagster_types import contract
from mrs_dagster.assets.explain import optional_reference
from mrs_dagster.cohorts.membership import current_members
from mrs_dagster.hydration import newest_tick
from mrs_dagster.resources import REFRESH_POOL, MRSConfig, RunMode
from mrs_dagster.reporting.site import TOP_CHARTS, DashboardInputs, build_dashboard, chart_data, write_site
from mrs_dagster.stages.frames import concat_rows
from mrs_dagster.stages.hydrate import latest
from mrs_dagster.stages.insights import money, rank_insights
from mrs_dagster.stages.segment_trends import daily_sales, latest_week
from mrs_dagster.stages.segment_trends import segment_trends as compute_segment_trends

_TOP = 10  # findings shown in the asset's metadata


@asset(group_name="insights", deps=["minority_reports_proposed_attribution_log", "reference_data"],
       pool=REFRESH_POOL, **contract("insights"))
def insights(context: AssetExecutionContext, mrs: MRSConfig, run_mode: RunMode, minority_events: pd.DataFrame,
             minority_reports: pd.DataFrame) -> pd.DataFrame:
    """Minority events ranked by money at stake, each with a one-line finding (seed 003)."""
    run_id = mrs.current_run_id()
    attribution = latest(run_mode.lake(mrs).read("minority_reports_proposed_attribution_log", run_id=run_id,
                                                 columns=["report_id", "campaign_id", "written_at", "version"]),
                         "report_id")
    stores = optional_reference(context, mrs, run_mode, "stores")
    ranked = rank_insights(minority_events, minority_reports, attribution, stores, run_id, mrs.currency)
    top = ranked.head(_TOP)
    context.add_output_metadata({
        "events_ranked": len(ranked),
        "money_at_stake_total": float(ranked["money_at_stake"].sum()),
        "top_money_at_stake": float(top["money_at_stake"].iat[0]) if len(top) else 0.0,
        "top_finding": top["finding"].iat[0] if len(top) else "none",
        "top_findings": MetadataValue.md(top.assign(money=[money(v, mrs.currency) for v in top["sales_at_stake"]])[
            ["rank", "finding", "cause", "confidence_score", "money"]].to_markdown(index=False) if len(top) else "none"),
    })
    return ranked


@asset(group_name="insights", deps=["reference_data", "cohort_membership_log"], pool=REFRESH_POOL,
       **contract("segment_trends"))
def segment_trends(context: AssetExecutionContext, mrs: MRSConfig, run_mode: RunMode, minority_events: pd.DataFrame,
                   minority_reports: pd.DataFrame, sales_daily_summary: pd.DataFrame) -> pd.DataFrame:
    """Per region, category, cause and cohort, per day and week: events, sales at stake, the share
    of sales affected and the change against the previous period (seed 003). Cohorts are taken at
    their newest generation."""
    run_id = mrs.current_run_id()
    log = run_mode.lake(mrs).read("cohort_membership_log", run_id=run_id)
    members = concat_rows([current_members(log, c)[1].assign(cohort_id=c) for c in sorted(log["cohort_id"].unique())]
                          + [pd.DataFrame(columns=["cohort_id", "entity_type", "store_id", "sku"])])
    stores, skus = (optional_reference(context, mrs, run_mode, name) for name in ("stores", "skus"))
    sales = daily_sales(sales_daily_summary)
    trends = compute_segment_trends(minority_reports, minority_events, sales, stores, skus, members, run_id)
    last = latest_week(trends)
    shown = last[["dimension", "segment", "events", "events_change", "sales_at_stake", "sales_at_stake_change", "share_affected"]]
    context.add_output_metadata({
        "rows": len(trends),
        "segments": int(trends[["dimension", "segment"]].drop_duplicates().shape[0]),
        "latest_week": str(last["period_start"].iat[0].date()) if len(last) else "none",
        "latest_week_by_segment": MetadataValue.md(shown.to_markdown(index=False, floatfmt=",.2f") if len(shown) else "none"),
    })
    return trends


@asset(group_name="insights", deps=["health", "unified_sales_data", "baseline_sales_model_prediction_log"],
       pool=REFRESH_POOL)
def dashboard(mrs: MRSConfig, run_mode: RunMode, insights: pd.DataFrame,
              segment_trends: pd.DataFrame) -> MaterializeResult:
    """The static dashboard under `lake/dashboard/`: top findings, each top event's sales against
    baseline, events by cause over time, a store x day heat map and the health panel."""
    lake, run_id = run_mode.lake(mrs), mrs.current_run_id()
    series, baseline = chart_data(lake, run_id, insights.head(TOP_CHARTS))
    files = build_dashboard(DashboardInputs(
        insights=insights, segment_trends=segment_trends, health=lake.read("health", run_id=run_id),
        series=series, baseline=baseline,
        error_rows=lake.count("unified_sales_data_errors", run_id), valid_rows=lake.count("unified_sales_data", run_id),
        run_id=run_id, newest_tick=newest_tick(lake, run_id), currency=mrs.currency,
    ))
    write_site(files, lake.dashboard_dir)
    return MaterializeResult(metadata={
        "path": MetadataValue.path(str(lake.dashboard_dir / "index.html")),
        "images": sum(name.endswith(".png") for name in files),
        "bytes": sum(len(content) for content in files.values()),
    })
