"""Seed 002's scenarios for the builder, with in-memory collaborators."""

import pandas as pd
import pytest

from mrs_dagster.cohorts.membership import cohort_progress, current_members
from mrs_dagster.cohorts.membership_builder import (
    CohortMembershipBuilder,
    DDError,
    Err,
    InMemoryArtifactStore,
    InMemoryCatalogBundleLoader,
    InMemoryRegistryFactory,
    InMemorySpecRepository,
)
from mrs_dagster.cohorts.specs import SpecError, next_cohort_id, parse_spec

NOW = pd.Timestamp("2026-03-14 18:00", tz="UTC")
STORES = pd.DataFrame({"store_id": ["301", "302", "303"], "retailer": ["w", "n", "w"],
                       "region": ["north", "south", "north"], "format": ["express", "superstore", ""]})
SKUS = pd.DataFrame({"sku": ["A", "B"], "category": ["produce", "dairy"], "brand": ["x", "y"],
                     "unit_price": ["0.5", "2.0"]})
CATALOG = pd.DataFrame({"combo_id": [f"c{s}{k}" for s in ("301", "302", "303") for k in "AB"],
                        "version": [1, 1, 1, 1, 2, 2], "store_id": [s for s in ("301", "302", "303") for _ in "AB"],
                        "sku": list("AB") * 3, "created_at": NOW})
METRICS = CATALOG[["combo_id", "store_id", "sku"]].assign(
    avg_daily_units=[10.0, 1.0, 5.0, 0.0, 12.0, 3.0], events_last_7d=[2.0, 0, 0, 1, 0, 0],
    store_open_events=[1.0, 1.0, 0, 0, 3.0, 3.0], as_of=NOW)
FRAMES = {"combo_catalog": CATALOG, "stores": STORES, "skus": SKUS, "metrics": METRICS}

NORTH_PRODUCE = {"all": [{"fact": "store.region", "operator": "equal", "value": "north"},
                         {"fact": "sku.category", "operator": "equal", "value": "produce"}]}


def spec(cohort_id="COH-1", rules=NORTH_PRODUCE, kind="dynamic"):
    return parse_spec({"name": "North produce", "kind": kind, "rules": rules}, cohort_id)


def builder(specs=None, frames=FRAMES, store=None, log=None, preview_rows=20):
    specs = specs or {"COH-1": spec()}
    return CohortMembershipBuilder(InMemorySpecRepository(specs), InMemoryCatalogBundleLoader(frames, {"source": "test"}),
                                   store, InMemoryRegistryFactory(log), preview_rows)


def test_a_persisted_run_writes_the_first_generation_and_returns_its_handles():
    store = InMemoryArtifactStore()
    result = builder(store=store).build("COH-1", now=NOW, run_id="r1")
    assert result.row_count == 2 and list(result.membership_preview["member_id"]) == ["c301A", "c303A"]
    assert result.artifacts == {"memory": "COH-1/generation-1", "rows": 2}
    (cohort_id, rows, metadata), = store.persisted
    assert cohort_id == "COH-1" and set(rows["change"]) == {"added"} and set(rows["generation"]) == {1}
    assert set(rows["entity_type"]) == {"combo"} and list(rows["written_at"].unique()) == [NOW]


def test_a_dry_run_computes_everything_and_skips_the_writer():
    store = InMemoryArtifactStore()
    result = builder(store=store).build("COH-1", now=NOW, run_id="r1", dry_run=True)
    assert result.row_count == 2 and result.artifacts == {} and store.persisted == []
    assert result.metadata["dry_run"] is True and result.metadata["generation"] == 1


def test_a_missing_or_empty_combo_catalog_is_data_missing():
    for frames in ({k: v for k, v in FRAMES.items() if k != "combo_catalog"}, {**FRAMES, "combo_catalog": CATALOG.iloc[0:0]}):
        with pytest.raises(DDError) as error:
            builder(frames=frames).build("COH-1", now=NOW, run_id="r1")
        assert error.value.code == Err.DATA_MISSING


def test_a_malformed_combo_catalog_is_invalid_config_naming_the_columns():
    with pytest.raises(DDError) as error:
        builder(frames={**FRAMES, "combo_catalog": CATALOG.drop(columns="combo_id")}).build("COH-1", now=NOW, run_id="r1")
    assert error.value.code == Err.INVALID_CONFIG and error.value.context["missing"] == ["combo_id"]


def test_a_frame_the_scope_needs_is_catalog_incomplete_and_an_unknown_spec_is_not_found():
    with pytest.raises(DDError) as error:
        builder(frames={k: v for k, v in FRAMES.items() if k != "skus"}).build("COH-1", now=NOW, run_id="r1")
    assert error.value.code == Err.CATALOG_INCOMPLETE and error.value.context["missing"] == ["skus"]
    with pytest.raises(DDError) as error:
        builder().build("COH-9", now=NOW, run_id="r1")
    assert error.value.code == Err.SPEC_NOT_FOUND and error.value.context == {"cohort_id": "COH-9"}


def test_rules_that_no_longer_validate_are_invalid_constraint():
    stale = spec().__class__("COH-1", "old", "dynamic", "", {"fact": "store.postcode", "operator": "equal", "value": "x"})
    with pytest.raises(DDError) as error:
        builder({"COH-1": stale}).build("COH-1", now=NOW, run_id="r1")
    assert error.value.code == Err.INVALID_CONSTRAINT and "unknown field" in error.value.context["problems"][0]


def test_members_missing_from_the_catalog_are_a_coverage_gap():
    log = pd.DataFrame({"cohort_id": "COH-1", "generation": 1, "entity_type": "combo", "member_id": ["c999A"],
                        "store_id": "999", "sku": "A", "change": "added", "written_at": NOW, "run_id": "r1"})
    with pytest.raises(DDError) as error:
        builder({"COH-1": spec(kind="static")}, log=log).build("COH-1", now=NOW, run_id="r1")
    assert error.value.code == Err.COVERAGE_GAP and error.value.context["missing"] == ["c999A"]


def test_metadata_aggregates_spec_catalog_and_membership():
    metadata = builder().build("COH-1", now=NOW, run_id="r1").metadata
    assert {k: metadata[k] for k in ("cohort_id", "kind", "entity_scope", "rule_fields", "source", "combo_count",
                                     "max_version", "rows", "generation", "added", "removed", "run_timestamp")} == {
        "cohort_id": "COH-1", "kind": "dynamic", "entity_scope": "combo", "rule_fields": ["sku.category", "store.region"],
        "source": "test", "combo_count": 6, "max_version": 2, "rows": 2, "generation": 1, "added": 2, "removed": 0,
        "run_timestamp": NOW.isoformat()}


def test_the_preview_is_capped_and_members_are_deduplicated():
    duplicated = {**FRAMES, "combo_catalog": pd.concat([CATALOG, CATALOG.assign(version=3)])}
    everyone = {"fact": "combo.avg_daily_units", "operator": "greaterThanInclusive", "value": 0}
    result = builder({"COH-1": spec(rules=everyone)}, frames=duplicated, preview_rows=4).build("COH-1", now=NOW, run_id="r1")
    assert result.row_count == 6 and len(result.membership_preview) == 4
    assert result.metadata["max_version"] == 3


def test_a_new_generation_only_when_membership_changes_and_a_static_cohort_stays_frozen():
    store = InMemoryArtifactStore()
    first = builder(store=store).build("COH-1", now=NOW, run_id="r1")
    log = store.persisted[0][1]
    again = builder(store=store, log=log).build("COH-1", now=NOW, run_id="r1")
    assert again.metadata["changed"] is False and again.metadata["generation"] == 1 and len(store.persisted) == 1

    moved = {**FRAMES, "stores": STORES.assign(region=["north", "north", "south"])}  # 302 north, 303 south
    second = builder(store=store, log=log, frames=moved).build("COH-1", now=NOW, run_id="r1")
    rows = store.persisted[1][1]
    assert second.metadata["generation"] == 2 and first.row_count == second.row_count == 2
    assert sorted(zip(rows["member_id"], rows["change"])) == [("c302A", "added"), ("c303A", "removed")]
    assert list(current_members(pd.concat([log, rows]), "COH-1")[1]["member_id"]) == ["c301A", "c302A"]

    frozen = builder({"COH-1": spec(kind="static")}, log=log, frames=moved).build("COH-1", now=NOW, run_id="r1")
    assert list(frozen.membership_preview["member_id"]) == ["c301A", "c303A"] and not frozen.metadata["changed"]
    assert cohort_progress(frozen.membership_preview, {"c301A", "c302A"}) == {
        "total": 2, "still_matching": 1, "diverged": 1, "progress_percent": 50.0}


def test_store_and_sku_cohorts_have_their_own_members():
    stores = builder({"COH-1": spec(rules={"fact": "store.open_events", "operator": "greaterThan", "value": 0})})
    assert list(stores.build("COH-1", now=NOW, run_id="r1").membership_preview["member_id"]) == ["301", "303"]
    skus = builder({"COH-1": spec(rules={"fact": "sku.unit_price", "operator": "lessThan", "value": 1})},
                   frames={k: v for k, v in FRAMES.items() if k != "stores"})
    preview = skus.build("COH-1", now=NOW, run_id="r1").membership_preview
    assert list(preview["member_id"]) == ["A"] and set(preview["entity_type"]) == {"sku"}


@pytest.mark.parametrize("document, cohort_id, problem", [
    ({"name": "x", "rules": NORTH_PRODUCE}, "../../etc/passwd", "is not of the form COH-<number>"),
    ({"name": "x", "rules": NORTH_PRODUCE}, "COH-1/../../x", "is not of the form COH-<number>"),
    ({"name": "x", "rules": NORTH_PRODUCE}, "COH-1\n", "is not of the form COH-<number>"),
    ({"name": "../../../tmp/evil", "rules": NORTH_PRODUCE}, "COH-1", "without '/'"),
    ({"name": "a\nb", "rules": NORTH_PRODUCE}, "COH-1", "printable"),
    ({"name": "x", "kind": "forever", "rules": NORTH_PRODUCE}, "COH-1", "kind must be one of"),
    ({"name": "x"}, "COH-1", "rules are missing"),
    ({"name": "x", "rules": NORTH_PRODUCE, "exec": "rm -rf /"}, "COH-1", "unknown key 'exec'"),
])
def test_bad_specs_and_path_traversal_in_ids_and_names_are_refused(document, cohort_id, problem):
    with pytest.raises(SpecError, match=problem):
        parse_spec(document, cohort_id)


def test_cohort_ids_are_numbered_after_the_highest():
    assert next_cohort_id([]) == "COH-1"
    assert next_cohort_id(["COH-2", "COH-10", "notes"]) == "COH-11"
