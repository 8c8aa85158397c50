"""`make quality`: event-level recall and precision of the model detector and of the degraded
heuristic alone, on the default world size for several seeds (the stage functions, no Dagster)."""

from __future__ import annotations

import argparse

from mrs_dagster.stages.baseline import baseline_predictions
from mrs_dagster.stages.classifier import classifier_predictions
from mrs_dagster.stages.cohorting import cohort_reports, store_watermarks
from mrs_dagster.stages.detection import detect_minority_reports
from mrs_dagster.stages.evaluation import evaluate_events
from mrs_dagster.stages.hydrate import latest
from mrs_dagster.synthetic import WorldSpec, generate_world


def overall(world, series, baseline, classifier) -> str:
    reports = detect_minority_reports(series, baseline, classifier, "quality")
    events = latest(cohort_reports(reports, store_watermarks(series), "quality").events, "event_id")
    row = evaluate_events(events, world.truth).set_index("cause").loc["overall"]
    return f"recall {row['recall']:.3f} precision {row['precision']:.3f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seeds", type=int, nargs="+", default=list(range(1, 9)))
    args = p.parse_args()
    for seed in args.seeds:
        world = generate_world(WorldSpec(seed=seed))
        series = world.sales.assign(feed_version=1)
        baseline = baseline_predictions(series, "quality")
        classifier = classifier_predictions(series, baseline, "quality")
        print(f"seed {seed}: model {overall(world, series, baseline, classifier)} | "
              f"heuristic alone {overall(world, series, None, None)}", flush=True)


if __name__ == "__main__":
    main()
