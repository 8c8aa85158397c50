"""The quality targets on the default demo world, computed by the stages without Dagster (the same
functions the assets call): model recall >= 0.90 and precision >= 0.80, the degraded heuristic
alone recall >= 0.60, and cause accuracy >= 0.85 overall and >= 0.70 for every cause but unknown."""

import pytest

from mrs_dagster.contracts import CAUSES
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


@pytest.fixture(scope="module")
def default_world():
    world = generate_world(WorldSpec())
    series = world.sales.assign(feed_version=1)
    baseline = baseline_predictions(series, "run")
    return world, series, baseline, classifier_predictions(series, baseline, "run")


def test_model_detection_and_attribution_meet_the_targets(default_world):
    world, series, baseline, classifier = default_world
    reports = detect_minority_reports(series, baseline, classifier, "run")
    cohorting = cohort_reports(reports, store_watermarks(daily_summary(series)), "run")
    clusters = cluster_reports(reports, world.stores, world.skus, "run")
    attribution = attribute_reports(reports, clusters, world.stores, world.skus, world.campaigns,
                                    world.context_events, "run")
    events = machine_events(reports, clusters, attribution, cohorting, "run")
    result = evaluate_events(events, world.truth).set_index("cause")
    assert result.loc["overall", "recall"] >= 0.90
    assert result.loc["overall", "precision"] >= 0.80
    assert result.loc["overall", "cause_accuracy"] >= 0.85
    for cause in CAUSES:
        if cause != "unknown":
            assert result.loc[cause, "cause_accuracy"] >= 0.70, cause


def test_degraded_heuristic_alone_meets_its_target(default_world):
    world, series, _, _ = default_world
    reports = detect_minority_reports(series, None, None, "run")
    events = latest(cohort_reports(reports, store_watermarks(daily_summary(series)), "run").events, "event_id")
    assert evaluate_events(events, world.truth).set_index("cause").loc["overall", "recall"] >= 0.60
