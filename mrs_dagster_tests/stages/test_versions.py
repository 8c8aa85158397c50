import numpy as np
import pandas as pd

from mrs_dagster.stages.classifier import ScoringParams
from mrs_dagster.stages.ingest import daily_summary
from mrs_dagster.stages.versions import (
    current_rows,
    evaluation_versions,
    feed_versions,
    model_version,
    next_generation,
    recall_start,
    reevaluation_reason,
    resend_scope,
    steps_at,
    version_at,
)


def t(hhmm: str) -> pd.Timestamp:
    return pd.Timestamp(f"2026-03-09 {hhmm}", tz="UTC")


def spans(series: pd.DataFrame) -> pd.DataFrame:
    """The feed-version spans of a series of store_id, ts and feed_version, through its daily summary."""
    return feed_versions(daily_summary(series.assign(sku="SKU0001", sales_value=1.0)))


def test_a_resend_raises_the_store_data_version_from_its_first_tick_on():
    series = pd.DataFrame({
        "store_id": ["301", "301", "301", "302"],
        "ts": [t("10:00"), t("11:00"), t("12:00"), t("11:00")],
        "feed_version": [1, 2, 1, 1],  # 11:00 was resent; 12:00 came later in the daily feed
    })
    versions = evaluation_versions(spans(series))
    rows = pd.DataFrame({"store_id": ["301", "301", "301", "302", "303"],
                         "written_at": [t("10:55"), t("11:00"), t("12:00"), t("12:00"), t("12:00")]})
    assert list(version_at(rows, versions)) == [1, 2, 2, 1, 1]
    log = rows.assign(version=[1, 1, 2, 1, 1])
    assert list(current_rows(log, versions).index) == [0, 2, 3, 4]  # the 11:00 row predates the resend
    assert resend_scope(series) == (["301"], t("11:00"))
    assert resend_scope(series[series["feed_version"] == 1]) is None


def test_each_row_takes_the_last_step_of_its_store_at_or_before_its_time_in_any_row_order():
    rng = np.random.default_rng(7)
    starts = [t("10:00"), t("10:30"), t("11:05"), t("13:00")]
    versions = pd.DataFrame({"store_id": ["301", "302", "301", "301"], "effective_from": starts,
                             "version": [2, 2, 3, 5], "data_version": [2, 1, 2, 3], "model_generation": [1, 2, 2, 3]})
    rows = pd.DataFrame({"store_id": rng.choice(["301", "302", "303"], 400),
                         "written_at": t("09:00") + pd.to_timedelta(rng.integers(0, 60, 400) * 5, unit="min")},
                        index=rng.permutation(400) + 1000)
    expected = []
    for store, at in zip(rows["store_id"], rows["written_at"]):
        reached = versions[(versions["store_id"] == store) & (versions["effective_from"] <= at)]
        expected.append(reached.sort_values("effective_from").iloc[-1][["version", "data_version", "model_generation"]].tolist()
                        if len(reached) else [1, 1, 1])
    steps = steps_at(rows, versions)
    assert list(steps.index) == list(rows.index)
    assert steps.to_numpy().tolist() == expected


def generation(n: int, effective_from: pd.Timestamp | None, registered_at: pd.Timestamp) -> dict:
    return {"generation": n, "baseline_model_version": "b", "classifier_model_version": f"c{n}",
            "effective_from": effective_from, "written_at": registered_at}


def generations(*rows: dict) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows))
    return frame.astype({"effective_from": "datetime64[ns, UTC]", "written_at": "datetime64[ns, UTC]"})


def test_a_model_generation_raises_every_store_version_from_its_recall_window_on():
    series = pd.DataFrame({"store_id": ["301", "301", "302"], "ts": [t("10:00"), t("11:00"), t("10:00")],
                           "feed_version": [1, 2, 1]})
    models = generations(generation(1, None, t("09:00")), generation(2, t("10:30"), t("12:00")))
    versions = evaluation_versions(spans(series), models)
    rows = pd.DataFrame({"store_id": ["301", "301", "301", "302", "302"],
                         "written_at": [t("10:00"), t("10:30"), t("11:00"), t("10:00"), t("10:30")]})
    # 301: data 1 then (model 2 at 10:30) 2, then (resend at 11:00) 3; 302: the model step only.
    assert list(version_at(rows, versions)) == [1, 2, 3, 1, 2]
    step = versions[(versions["store_id"] == "302") & (versions["version"] == 2)].iloc[0]
    assert (step["effective_from"], step["effective_to"], step["model_generation"]) == (t("10:30"), t("12:00"), 2)


def test_every_reevaluation_raises_the_version_whatever_the_order_of_resends_and_model_updates():
    daily = pd.DataFrame({"store_id": ["301"] * 3, "ts": [t("10:00"), t("11:00"), t("12:00")], "feed_version": 1})
    resent = daily.assign(feed_version=[1, 2, 2])
    model = generations(generation(1, None, t("09:00")), generation(2, t("10:30"), t("12:00")))
    rows = daily.rename(columns={"ts": "written_at"})
    seen = [version_at(rows, evaluation_versions(spans(series), g))
            for series, g in ((daily, None), (resent, None), (resent, model))]
    seen_model_first = [version_at(rows, evaluation_versions(spans(series), g))
                        for series, g in ((daily, None), (daily, model), (resent, model))]
    for history in (seen, seen_model_first):
        assert list(history[0]) == [1, 1, 1]
        for before, after in zip(history, history[1:]):
            changed = before != after
            assert (after[changed] > before[changed]).all() and changed[1:].all()


def test_an_event_ended_by_a_reevaluation_says_whether_the_data_or_the_models_changed():
    now = pd.DataFrame({"version": [2, 2, 3, 3], "data_version": [2, 1, 2, 2], "model_generation": [1, 2, 2, 2]})
    old = np.array([1, 1, 2, 1])
    # resend only; model only; model after an earlier resend; both since the rows were written.
    assert list(reevaluation_reason(old, now)) == ["data correction", "model update", "model update", "model update"]
    assert list(reevaluation_reason(np.array([2]), pd.DataFrame(
        {"version": [3], "data_version": [3], "model_generation": [1]}))) == ["data correction"]


def test_a_changed_model_version_registers_a_generation_that_re_evaluates_the_recall_window():
    newest = pd.Timestamp("2026-03-10 18:00", tz="UTC")
    first = next_generation(pd.DataFrame(columns=["generation"]), "b1", "c1", newest, recall_days=2)
    assert first["generation"].tolist() == [1] and first["effective_from"].isna().all()
    assert next_generation(first, "b1", "c1", newest, recall_days=2).empty
    for baseline, classifier in (("b2", "c1"), ("b1", "c2")):
        second = next_generation(first, baseline, classifier, newest, recall_days=2)
        assert second["generation"].tolist() == [2]
        assert second["effective_from"].tolist() == [pd.Timestamp("2026-03-09", tz="UTC")] == [recall_start(newest, 2)]
        assert second["written_at"].tolist() == [newest]


def test_a_retuned_model_has_a_version_of_its_own():
    assert model_version("poisson-v1", ScoringParams()) == "poisson-v1"
    tuned = model_version("poisson-v1", ScoringParams(threshold=9.0))
    assert tuned.startswith("poisson-v1+") and tuned == model_version("poisson-v1", ScoringParams(threshold=9.0))
    assert tuned != model_version("poisson-v1", ScoringParams(threshold=8.0))
