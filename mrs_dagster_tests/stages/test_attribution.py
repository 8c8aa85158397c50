"""Attribution: evidence first (campaigns, context events), then patterns, else unknown."""

import pandas as pd
import pytest

from mrs_dagster.contracts import MINORITY_REPORTS_PROPOSED_ATTRIBUTION_LOG, conform
from mrs_dagster.stages.attribution import attribute_reports, attribution_unavailable

STORES = pd.DataFrame({"store_id": ["1", "2"], "region": ["north", "south"]})
SKUS = pd.DataFrame({"sku": ["A", "B"], "category": ["drinks", "dairy"]})
CAMPAIGNS = pd.DataFrame(
    [{"campaign_id": "CMP-1", "kind": "price_promotion", "store_id": "", "region": "north", "sku": "",
      "category": "drinks", "start": "2026-03-10T09:00:00Z", "end": "2026-03-10T12:00:00Z"}]
)
CONTEXT = pd.DataFrame(
    [{"event_id": "CTX-1", "kind": "weather", "region": "south", "store_id": "", "start": "2026-03-10T09:00:00Z",
      "end": "2026-03-10T12:00:00Z", "description": "heatwave"}]
)


def report(store, sku, direction="spike", observed=30.0, baseline=10.0, tick="10:00"):
    ts = pd.Timestamp(f"2026-03-10 {tick}", tz="UTC")
    return {"report_id": f"{store}-{sku}-{direction}", "store_id": store, "sku": sku, "first_detected_from": ts,
            "window_start": ts, "window_end": ts, "direction": direction, "observed_units": observed,
            "baseline_units": baseline, "written_at": ts, "version": 1}


def attribute(reports, clustered=None, **reference):
    """Attribute `reports`; without `clustered`, each report is its own isolated cluster."""
    refs = {"stores": STORES, "skus": SKUS, "campaigns": CAMPAIGNS, "context_events": CONTEXT, **reference}
    frame = pd.DataFrame(reports)
    if clustered is None:
        clustered = frame[["report_id", "written_at", "version"]].assign(cluster_id=frame["report_id"],
                                                                          cluster_label="isolated")
    out = attribute_reports(frame, clustered, refs["stores"], refs["skus"], refs["campaigns"],
                            refs["context_events"], "run")
    return conform(MINORITY_REPORTS_PROPOSED_ATTRIBUTION_LOG, out).set_index("report_id")


def test_a_spike_inside_a_campaign_scope_is_a_promotion_with_its_campaign():
    out = attribute([report("1", "A"), report("1", "B"), report("2", "A")])
    assert out.loc["1-A-spike", "proposed_cause"] == "promotion"
    assert out.loc["1-A-spike", "campaign_id"] == "CMP-1"
    assert out.loc["1-B-spike", "proposed_cause"] == "unknown"  # other category
    assert out.loc["2-A-spike", "proposed_cause"] == "weather"  # other region, its weather
    assert out.loc["2-A-spike", "context_event_id"] == "CTX-1"


def test_outside_the_campaign_window_there_is_no_promotion():
    out = attribute([report("1", "A", tick="13:00")])
    assert out.loc["1-A-spike", "proposed_cause"] == "unknown" and out.loc["1-A-spike", "confidence_score"] == 0.3


def test_a_collapse_of_sales_is_a_stockout_and_a_mild_drop_is_not():
    out = attribute([report("1", "B", "drop", observed=1.0, baseline=40.0), report("2", "B", "drop", observed=20.0, baseline=40.0)])
    assert out.loc["1-B-drop", "proposed_cause"] == "stockout"
    assert out.loc["2-B-drop", "proposed_cause"] == "unknown"


@pytest.mark.parametrize(("label", "ratio", "cause"), [
    ("store_wide", 2.0, "data_error"),
    ("store_wide", 4.0, "unknown"),
    ("sku_across_stores", 4.0, "viral_demand"),
])
def test_patterns_from_clusters(label, ratio, cause):
    r = report("1", "B", observed=10.0 * ratio - 1 + ratio, baseline=10.0)
    clustered = pd.DataFrame([{"report_id": r["report_id"], "written_at": r["written_at"], "version": 1,
                               "cluster_id": "c1", "cluster_label": label}])
    out = attribute([r], clustered)
    assert out.loc[r["report_id"], "proposed_cause"] == cause
    assert out.loc[r["report_id"], "cluster_id"] == "c1"


def test_with_an_input_down_unexplained_reports_are_unknown_with_null_confidence():
    out = attribute([report("1", "A"), report("2", "A"), report("1", "B", "drop", observed=1.0, baseline=40.0)],
                    campaigns=None)
    assert out.loc["2-A-spike", "proposed_cause"] == "weather"  # positive evidence still stands
    assert out.loc["2-A-spike", "confidence_score"] == 0.8
    assert out.loc["1-B-drop", "proposed_cause"] == "stockout"
    blind = out.loc["1-A-spike"]  # a promotion we cannot see any more
    assert blind["proposed_cause"] == "unknown" and pd.isna(blind["confidence_score"])
    assert blind["evidence"] == "campaigns down: other causes cannot be ruled out"


def test_with_every_input_down_attribution_still_emits_a_row_per_report():
    out = attribute([report("1", "A"), report("2", "A")], campaigns=None, context_events=None, stores=None, skus=None)
    assert set(out["proposed_cause"]) == {"unknown"} and out["confidence_score"].isna().all()
    assert out["campaign_id"].isna().all() and out["context_event_id"].isna().all()


def test_failed_attribution_is_unknown_with_null_confidence():
    out = conform(MINORITY_REPORTS_PROPOSED_ATTRIBUTION_LOG,
                  attribution_unavailable(pd.DataFrame([report("1", "A")]), "run"))
    assert list(out["proposed_cause"]) == ["unknown"] and out["confidence_score"].isna().all()
