"""`make quality`: event-level recall, precision and cause accuracy of the model path, and recall
and precision of the degraded heuristic alone, on the default world size for several seeds (the
stage functions, no Dagster)."""

from __future__ import annotations

import argparse

from mrs_dagster.stages.attribution import attribute_reports
from mrs_dagster.stages.baseline import baseline_predictions
from mrs_dagster.stages.classifier import classifier_predictions
from mrs_dagster.stages.clustering import cluster_reports
from mrs_dagster.stages.cohorting import cohort_reports, store_watermarks
from mrs_dagster.stages.detection import detect_minority_reports
from mrs_dagster.stages.evaluation import evaluate_events
from mrs_dagster.stages.finalisation import machine_events
from mrs_dagster.stages.hydrate import latest
from mrs_dagster.stages.ingest import daily_summary
from mrs_dagster.synthetic import WorldSpec, generate_world


def scores(world, series, baseline, classifier, attribute: bool) -> str:
    reports = detect_minority_reports(series, baseline, classifier, "quality")
    cohorting = cohort_reports(reports, store_watermarks(daily_summary(series)), "quality")
    events = latest(cohorting.events, "event_id")
    if attribute:
        clusters = cluster_reports(reports, world.stores, world.skus, "quality")
        attribution = attribute_reports(reports, clusters, world.stores, world.skus, world.campaigns,
                                        world.context_events, "quality")
        events = machine_events(reports, clusters, attribution, cohorting, "quality")
    result = evaluate_events(events, world.truth).set_index("cause")
    line = f"recall {result.loc['overall', 'recall']:.3f} precision {result.loc['overall', 'precision']:.3f}"
    if attribute:
        worst = result.drop(["overall", "unknown"])["cause_accuracy"]
        line += (f" cause accuracy {result.loc['overall', 'cause_accuracy']:.3f}"
                 f" (lowest {worst.min():.2f}: {worst.idxmin()})")
    return line


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seeds", type=int, nargs="+", default=list(range(1, 9)))
    args = p.parse_args()
    for seed in args.seeds:
        world = generate_world(WorldSpec(seed=seed))
        series = world.sales.assign(feed_version=1)
        baseline = baseline_predictions(series, "quality")
        classifier = classifier_predictions(series, baseline, "quality")
        print(f"seed {seed}: model {scores(world, series, baseline, classifier, True)} | "
              f"heuristic alone {scores(world, series, None, None, False)}", flush=True)


if __name__ == "__main__":
    main()
