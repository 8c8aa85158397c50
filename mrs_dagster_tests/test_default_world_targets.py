"""The issue's quality targets on the default demo world, computed by the stages without Dagster
(the same functions the assets call): model recall >= 0.90 and precision >= 0.80, every cause
found at least once, and the degraded heuristic alone recall >= 0.60."""

import pytest

from mrs_dagster.stages.baseline import baseline_predictions
from mrs_dagster.stages.classifier import classifier_predictions
from mrs_dagster.stages.cohorting import cohort_reports, store_watermarks
from mrs_dagster.stages.detection import detect_minority_reports
from mrs_dagster.stages.evaluation import evaluate_events, latest_events
from mrs_dagster.synthetic import WorldSpec, generate_world


@pytest.fixture(scope="module")
def default_world():
    world = generate_world(WorldSpec())
    series = world.sales.assign(feed_version=1)
    baseline = baseline_predictions(series, "run")
    return world, series, baseline, classifier_predictions(series, baseline, "run")


def scores(world, series, baseline, classifier):
    reports = detect_minority_reports(series, baseline, classifier, "run")
    events = latest_events(cohort_reports(reports, store_watermarks(series), "run").events)
    return evaluate_events(events, world.truth).set_index("cause")


def test_model_detection_meets_the_targets(default_world):
    result = scores(*default_world)
    assert result.loc["overall", "recall"] >= 0.90
    assert result.loc["overall", "precision"] >= 0.80
    assert (result.drop("overall")["found"] > 0).all()


def test_degraded_heuristic_alone_meets_its_target(default_world):
    world, series, _, _ = default_world
    assert scores(world, series, None, None).loc["overall", "recall"] >= 0.60
