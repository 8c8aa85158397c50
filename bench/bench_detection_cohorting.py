"""`make bench`: detection and cohorting on 50 stores x 200 SKUs x 14 days.

Runs the same stage functions the assets call, store by store (as a partitioned run would), and
times cohorting beside the same gap-sessionization written as one DuckDB SQL window query over the
same MRDL rows. Prints ticks/s, reports/s, peak memory; targets: the whole run under 60 s and
8 GiB, cohorting no slower than 2x the SQL query.
"""

from __future__ import annotations

import argparse
import resource
import time

import duckdb
import pandas as pd

from mrs_dagster.stages.baseline import baseline_predictions
from mrs_dagster.stages.classifier import classifier_predictions
from mrs_dagster.stages.cohorting import CohortingParams, cohort_reports, store_watermarks
from mrs_dagster.stages.detection import detect_minority_reports
from mrs_dagster.stages.ingest import daily_summary
from mrs_dagster.synthetic import WorldSpec, generate_world

SESSIONIZE_SQL = """
WITH marked AS (
    SELECT *,
        CASE WHEN written_at - LAG(written_at) OVER (PARTITION BY store_id ORDER BY written_at) > INTERVAL '{gap} minutes'
             THEN 1 ELSE 0 END AS starts_event,
        attributed_sales_total - COALESCE(LAG(attributed_sales_total) OVER w_report, 0) AS d_attributed,
        baseline_sales_total - COALESCE(LAG(baseline_sales_total) OVER w_report, 0) AS d_baseline,
        ABS(attributed_sales_total) - COALESCE(ABS(LAG(attributed_sales_total) OVER w_report), 0) AS d_impact
    FROM mrdl
    WINDOW w_report AS (PARTITION BY report_id ORDER BY written_at)
), numbered AS (
    SELECT *, SUM(starts_event) OVER (PARTITION BY store_id ORDER BY written_at
                                     RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS event_no
    FROM marked
), per_tick AS (
    SELECT store_id, event_no, written_at, SUM(d_attributed) AS d_attributed, SUM(d_baseline) AS d_baseline,
           SUM(d_impact) AS d_impact, MAX(severity_score) AS severity
    FROM numbered GROUP BY store_id, event_no, written_at
)
SELECT store_id, event_no, written_at,
       MIN(written_at) OVER w_event AS first_detected_from,
       SUM(d_attributed) OVER w_event AS attributed_sales_total,
       SUM(d_baseline) OVER w_event AS baseline_sales_total,
       SUM(d_impact) OVER w_event AS impact_estimate,
       MAX(severity) OVER w_event AS severity_score
FROM per_tick
WINDOW w_event AS (PARTITION BY store_id, event_no ORDER BY written_at ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
"""


def peak_memory_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--stores", type=int, default=50)
    p.add_argument("--skus", type=int, default=200)
    p.add_argument("--days", type=int, default=14)
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3, help="cohorting vs SQL: median of this many timings")
    args = p.parse_args()
    started = time.perf_counter()

    world = generate_world(WorldSpec(seed=args.seed, stores=args.stores, skus=args.skus, days=args.days))
    series = world.sales.assign(feed_version=1)
    generated = time.perf_counter() - started

    t0 = time.perf_counter()
    scored_ticks, reports = 0, []
    for _, store_series in series.groupby("store_id"):
        baseline = baseline_predictions(store_series, "bench")
        classifier = classifier_predictions(store_series, baseline, "bench")
        scored_ticks += len(classifier)
        reports.append(detect_minority_reports(store_series, baseline, classifier, "bench"))
    detected = pd.concat(reports, ignore_index=True)
    detection_s = time.perf_counter() - t0

    watermarks = store_watermarks(daily_summary(series))
    cohorting_s, sql_s = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        result = cohort_reports(detected, watermarks, "bench")
        cohorting_s.append(time.perf_counter() - t0)
        con = duckdb.connect()
        con.register("mrdl", detected)
        t0 = time.perf_counter()
        sql_rows = con.execute(SESSIONIZE_SQL.format(gap=int(CohortingParams().gap_threshold.total_seconds() // 60))).df()
        sql_s.append(time.perf_counter() - t0)
        con.close()
    cohorting, sql = float(pd.Series(cohorting_s).median()), float(pd.Series(sql_s).median())
    active_snapshots = (result.cohorted["event_status"] == "active").sum()
    assert len(sql_rows) == active_snapshots, (len(sql_rows), active_snapshots)
    total = time.perf_counter() - started

    n_reports = detected["report_id"].nunique()
    print(f"world: {args.stores} stores x {args.skus} SKUs x {args.days} days, {len(series):,} sales rows "
          f"(generated in {generated:.1f} s)")
    print(f"detection (baseline + classifier + MRDL): {detection_s:.1f} s, {scored_ticks / detection_s:,.0f} "
          f"series-ticks/s over {scored_ticks:,} scored series-ticks")
    print(f"reports: {n_reports:,} reports in {len(detected):,} MRDL rows, "
          f"{len(detected) / detection_s:,.0f} report rows/s")
    print(f"cohorting: {cohorting:.2f} s (median of {args.repeats}) for {result.events['event_id'].nunique():,} events; "
          f"DuckDB SQL window query: {sql:.2f} s; ratio {cohorting / sql:.2f}x (target <= 2x)")
    print(f"whole run: {total:.1f} s (target < 60 s); peak memory {peak_memory_gib():.2f} GiB (target < 8 GiB)")


if __name__ == "__main__":
    main()
