import pandas as pd
import pytest

from mrs_dagster.cohorts.catalog import changed_fields, cohorts_to_reevaluate, field_fingerprints, new_combos
from mrs_dagster.cohorts.membership_builder import DDError, Err, InMemoryCatalogBundleLoader, create_cohort_membership_builder
from mrs_dagster.cohorts.specs import parse_spec
from mrs_dagster_tests.cohorts.test_membership_builder import FRAMES, METRICS, NOW


def test_a_series_seen_for_the_first_time_joins_the_catalog_under_the_next_version():
    series = pd.DataFrame({"store_id": ["301", "301", "302"], "sku": ["A", "A", "B"], "ts": [NOW, NOW - pd.Timedelta(hours=1), NOW]})
    first = new_combos(pd.DataFrame(columns=["combo_id", "version"]), series, "r1")
    assert first[["store_id", "sku", "version"]].values.tolist() == [["301", "A", 1], ["302", "B", 1]]
    assert first["created_at"].tolist() == [NOW - pd.Timedelta(hours=1), NOW]
    later = pd.concat([series, pd.DataFrame({"store_id": ["303"], "sku": ["A"], "ts": [NOW]})])
    assert new_combos(first, later, "r1")[["store_id", "version"]].values.tolist() == [["303", 2]]
    assert new_combos(first, series, "r1").empty


def test_refreshed_metrics_re_evaluate_only_the_dynamic_cohorts_that_use_them():
    specs = [parse_spec({"name": n, "kind": k, "rules": {"fact": f, "operator": "greaterThan", "value": 1}}, i)
             for i, n, k, f in (("COH-1", "busy", "dynamic", "combo.avg_daily_units"),
                                ("COH-2", "eventful", "dynamic", "combo.events_last_7d"),
                                ("COH-3", "busy list", "static", "combo.avg_daily_units"),
                                ("COH-4", "open stores", "dynamic", "store.open_events"))]
    before = field_fingerprints(FRAMES)
    refreshed = {**FRAMES, "metrics": METRICS.assign(avg_daily_units=METRICS["avg_daily_units"] + 1)}
    changed = changed_fields(before, field_fingerprints(refreshed))
    assert changed == {"combo.avg_daily_units"}
    assert cohorts_to_reevaluate(specs, changed) == ["COH-1"]
    assert changed_fields({}, before) == set(before)  # a first look: everything is new


def test_the_factory_refuses_missing_or_unknown_collaborators():
    with pytest.raises(DDError) as error:
        create_cohort_membership_builder(catalog_loader=InMemoryCatalogBundleLoader(FRAMES), writer=object())
    assert error.value.code == Err.INVALID_CONFIG
    assert error.value.context == {"missing": ["spec_repository"], "unknown": ["writer"]}
