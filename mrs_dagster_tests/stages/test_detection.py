"""Detection on a generated world: the model path, and the degraded heuristic when models are down."""

import numpy as np
import pandas as pd
import pytest

from mrs_dagster.stages.baseline import baseline_predictions
from mrs_dagster.stages.classifier import ScoringParams, score_windows
from mrs_dagster.stages.detection import detect_minority_reports, models_available
from mrs_dagster.stages.hydrate import latest as hydrate_latest


@pytest.fixture(scope="module")
def models(small_world):
    series = small_world.sales.assign(feed_version=1)
    from mrs_dagster.stages.classifier import classifier_predictions

    baseline = baseline_predictions(series, "run-1")
    return series, baseline, classifier_predictions(series, baseline, "run-1")


def test_poisson_test_flags_a_burst_and_not_noise():
    rng = np.random.default_rng(5)
    expected = np.full((1, 200), 1.0)
    units = rng.poisson(expected).astype(float)
    units[0, 100:112] = rng.poisson(4.0, 12)
    scores = score_windows(units, expected, np.zeros(units.shape[1], dtype=int), ScoringParams())
    flagged = np.flatnonzero(scores.flag[0])
    assert flagged.size > 0 and flagged.min() >= 100 and flagged.max() < 115
    assert (scores.direction[0, flagged] == 1).all()


def test_poisson_test_flags_a_stockout_as_a_drop():
    expected = np.full((1, 120), 2.0)
    units = np.random.default_rng(6).poisson(expected).astype(float)
    units[0, 60:100] = 0
    scores = score_windows(units, expected, np.zeros(units.shape[1], dtype=int), ScoringParams())
    assert scores.flag[0, 70:100].any() and (scores.direction[0][scores.flag[0]] == -1).all()


def test_model_detection_finds_the_truth_anomalies(models, small_world):
    series, baseline, classifier = models
    reports = detect_minority_reports(series, baseline, classifier, "run-1")
    assert (reports["detection_mode"] == "model").all() and not reports["is_degraded"].any()
    latest = hydrate_latest(reports, "report_id")
    truth = small_world.truth
    hits = latest.merge(truth, on="store_id")
    overlapping = hits[(hits["window_start"] < hits["end"]) & (hits["window_end"] >= hits["start"])]
    assert overlapping[["store_id", "start"]].drop_duplicates().shape[0] >= 0.9 * len(truth)


def test_report_rows_accumulate_as_the_report_grows(models):
    series, baseline, classifier = models
    reports = detect_minority_reports(series, baseline, classifier, "run-1")
    longest = reports["report_id"].value_counts().index[0]
    rows = reports[reports["report_id"] == longest].sort_values("written_at")
    assert len(rows) > 1
    assert (rows["window_start"] == rows["first_detected_from"].iloc[0]).all()
    assert list(rows["window_end"]) == list(rows["written_at"])
    assert rows["severity_score"].is_monotonic_increasing
    assert np.allclose(rows["attributed_sales_total"], rows["observed_sales_total"] - rows["baseline_sales_total"])


@pytest.mark.parametrize("missing", ["baseline", "classifier", "both_empty"])
def test_detection_degrades_to_the_heuristic_when_a_model_log_is_unavailable(models, small_world, missing):
    series, baseline, classifier = models
    if missing == "baseline":
        args = (None, classifier)
    elif missing == "classifier":
        args = (baseline, None)
    else:
        args = (baseline.iloc[:0], classifier.iloc[:0])
    reports = detect_minority_reports(series, *args, "run-1")
    assert not reports.empty
    assert (reports["detection_mode"] == "degraded_heuristic").all()
    assert reports["is_degraded"].all()
    assert (reports["model_version"] == "seasonal-naive-deviation-v1").all()
    found = reports.merge(small_world.truth, on="store_id")
    found = found[(found["window_start"] < found["end"]) & (found["window_end"] >= found["start"])]
    assert found[["store_id", "start"]].drop_duplicates().shape[0] >= 0.6 * len(small_world.truth)


def test_baseline_predicts_only_after_a_week_of_history(models):
    _, baseline, _ = models
    first_day = baseline["ts"].min().normalize()
    assert first_day == pd.Timestamp("2026-03-09", tz="UTC")
    assert (baseline["expected_units"] >= 0).all()


def test_empty_model_logs_during_the_warmup_are_not_an_outage(models):
    series, baseline, classifier = models
    first_week = series[series["ts"] < series["ts"].min().normalize() + pd.Timedelta(days=7)]
    assert models_available(baseline.iloc[:0], classifier.iloc[:0], first_week)
    assert detect_minority_reports(first_week, baseline.iloc[:0], classifier.iloc[:0], "run-1").empty
    assert not models_available(baseline.iloc[:0], classifier.iloc[:0], series)


def test_each_store_is_computed_independently(models):
    """Detection and cohorting of one store alone give exactly that store's rows of a full run."""
    from mrs_dagster.stages.cohorting import cohort_reports, store_watermarks
    from mrs_dagster.stages.ingest import daily_summary

    series, baseline, classifier = models
    everything = detect_minority_reports(series, baseline, classifier, "run-1")
    events = cohort_reports(everything, store_watermarks(daily_summary(series)), "run-1").cohorted
    for store_id in series["store_id"].unique()[:3]:
        def of_store(frame):
            return frame[frame["store_id"] == store_id]

        alone = detect_minority_reports(of_store(series), of_store(baseline), of_store(classifier), "run-1")
        pd.testing.assert_frame_equal(alone.reset_index(drop=True), of_store(everything).reset_index(drop=True))
        alone_events = cohort_reports(alone, store_watermarks(daily_summary(of_store(series))), "run-1").cohorted
        pd.testing.assert_frame_equal(alone_events.reset_index(drop=True), of_store(events).reset_index(drop=True))


def test_the_models_and_the_heuristic_give_the_same_rows_in_one_thread_as_in_several(models, monkeypatch):
    """Stores are computed side by side (`series_grid.map_store_grids`); one at a time gives the same rows."""
    from mrs_dagster.stages import series_grid
    from mrs_dagster.stages.classifier import classifier_predictions

    series, baseline, classifier = models
    assert series_grid.STORE_THREADS > 1 or series_grid.os.cpu_count() == 1
    heuristic = detect_minority_reports(series, None, classifier, "run-1")
    monkeypatch.setattr(series_grid, "STORE_THREADS", 1)
    pd.testing.assert_frame_equal(baseline_predictions(series, "run-1"), baseline)
    pd.testing.assert_frame_equal(classifier_predictions(series, baseline, "run-1"), classifier)
    pd.testing.assert_frame_equal(detect_minority_reports(series, None, classifier, "run-1"), heuristic)
