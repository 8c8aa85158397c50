"""Data contracts: the one place that says which columns every MRS dataset has.

Each dataset has a pandera schema (validated on every asset output and shown in the Dagster UI),
its idempotent key (dedup on write) and, derived from the schema, its Arrow/Iceberg schema.
Field names follow the seeds (`report_id`, `first_detected_from`, `window_start`, `written_at`, ...).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
from pandera import dtypes
from pandera.engines import pandas_engine

from mrs_dagster.stages.order import distinct_by_order, is_sorted, repeated_rows

TS = "datetime64[ns, UTC]"

CAUSES = ("promotion", "weather", "local_event", "viral_demand", "data_error", "stockout", "unknown")
DIRECTIONS = ("spike", "drop")
DETECTION_MODES = ("model", "degraded_heuristic")
EVENT_STATUSES = ("active", "ended")
SOURCES = ("detected", "clustered", "attribution", "cohort", "finalised", "ui")
# A re-evaluation (a corrected resend, seed 001 §12, or a model update, §10): a report no longer
# anomalous after it is superseded, one that still is but whose rows changed is revised, one that
# only the re-evaluation shows is new after the correction.
CORRECTION_STATUSES = ("superseded", "revised", "new_after_correction")
# Why an event the re-evaluated history no longer has ended.
RESOLUTION_DATA_CORRECTION = "data correction"
RESOLUTION_MODEL_UPDATE = "model update"
REEVALUATION_RESOLUTIONS = (RESOLUTION_DATA_CORRECTION, RESOLUTION_MODEL_UPDATE)
DEGRADED_REASONS = ("MRCL_down", "MRPAL_down", "MRCH_down", "MEEL_down", "EDITS_down", "EVENT_EDITS_down", "SUPERSEDED")
# Analysts' verdicts, as anomaly tools' users give them (ThirdEye's feedback types).
VERDICTS = ("anomaly", "expected", "not_anomaly", "new_trend", "no_feedback")
CLUSTER_LABELS = ("sku_across_stores", "store_wide", "region_multi_store", "store_multi_sku", "isolated")


# Text as the lake hands it over: Arrow-backed strings, missing as NaN (pandas 3's default `str`).
# Against Python string objects, a big log takes about a third of the memory and its NULL checks,
# key lookups and conversion back to Arrow stop touching every cell from Python.
TEXT_DTYPE = pd.StringDtype("pyarrow", na_value=np.nan)
# `types_mapper` for Arrow's `to_pandas`: text as `TEXT_DTYPE` (Arrow's buffers as they are), whatever
# pandas metadata a file carries.
ARROW_TEXT = {pyarrow.string(): TEXT_DTYPE, pyarrow.large_string(): TEXT_DTYPE}.get


@pandas_engine.Engine.register_dtype
@dtypes.immutable
class Text(pandas_engine.NpString):
    """pandera's `str`, accepting text in either form a stage holds it: Arrow-backed (`TEXT_DTYPE`,
    what the lake reads and ingestion parses) or Python strings and NULLs in an object column (what
    stages build). Both are recognised in C: pandera coerces and checks every cell with Python
    calls, which were most of the time a big log took to write (1.6 s per text column of 2.3M
    rows). Any other column takes pandera's cell by cell path, so its bad rows are still told apart
    (dead letters)."""

    def coerce(self, data_container):
        return data_container if _all_text(data_container) else super().coerce(data_container)

    def check(self, pandera_dtype, data_container=None):
        return True if data_container is not None and _all_text(data_container) else super().check(
            pandera_dtype, data_container)


@pandas_engine.Engine.register_dtype
@dtypes.immutable(init=True)
class UtcTime(pandas_engine.DateTime):
    """pandera's `datetime64[ns, UTC]`, passing a column already in it through: pandera parses
    it again (about 0.3 s per 10M rows, for every time column of every big log written or checked)."""

    def coerce(self, data_container):
        return data_container if data_container.dtype == self.type else super().coerce(data_container)


def _all_text(values) -> bool:
    return values.dtype == TEXT_DTYPE or (
        values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"))


def _str(nullable: bool = False, **kw) -> pa.Column:
    return pa.Column(Text, nullable=nullable, **kw)


def _ts(nullable: bool = False, **kw) -> pa.Column:
    return pa.Column(UtcTime(tz="UTC"), nullable=nullable, **kw)


def _float(nullable: bool = False, **kw) -> pa.Column:
    return pa.Column(float, nullable=nullable, **kw)


def _int(nullable: bool = False, **kw) -> pa.Column:
    return pa.Column("Int64" if nullable else "int64", nullable=nullable, **kw)


def _bool(**kw) -> pa.Column:
    return pa.Column(bool, **kw)


def _one_of(values, nullable: bool = False, **kw) -> pa.Column:
    return pa.Column(Text, pa.Check.isin(list(values)), nullable=nullable, **kw)


@dataclass(frozen=True)
class Dataset:
    name: str
    schema: pa.DataFrameSchema
    key: tuple[str, ...]
    is_view: bool = False  # a hydrated current-state view, replaced whole, not an append-only log
    # The order rows are written in: a read filtered on the first column (a time window, a dedup
    # lookup of new keys) skips the Parquet row groups outside it instead of reading all history.
    # When it is part of the key, rows strictly in that order have no key twice (`key_duplicated`).
    sort_by: tuple[str, ...] = ()

    @property
    def columns(self) -> list[str]:
        return list(self.schema.columns)

    def in_key_order(self, rows: pd.DataFrame) -> bool:
        """Whether `rows` are strictly in `sort_by` order and it is part of the key: then they are
        in the order they are written in and repeat no key."""
        return bool(self.sort_by) and set(self.sort_by) <= set(self.key) and is_sorted(
            rows, list(self.sort_by), strictly=True)

    def key_duplicated(self, rows: pd.DataFrame) -> np.ndarray:
        """Which `rows` repeat the key (the key columns `rows` has) of an earlier row: none when
        `sort_by` is part of the key and the rows' order shows them distinct in it
        (`distinct_by_order`: a pass over a few columns, where hashing ten million keys takes
        seconds); else by `repeated_rows`, the sort columns first (rows read back are in runs in
        their order)."""
        key = [c for c in self.key if c in rows.columns]
        if not key:
            return np.zeros(len(rows), dtype=bool)
        if self.sort_by and set(self.sort_by) <= set(key) and distinct_by_order(rows, list(self.sort_by)):
            return np.zeros(len(rows), dtype=bool)
        return repeated_rows(rows, [c for c in self.sort_by if c in key] + [c for c in key if c not in self.sort_by])

    def arrow_schema(self) -> pyarrow.Schema:
        return pyarrow.schema(
            [pyarrow.field(name, _ARROW_TYPES[str(col.dtype)], nullable=True) for name, col in self.schema.columns.items()]
        )

    def empty(self) -> pd.DataFrame:
        """No rows, in the contract's columns and dtypes (validated once per dataset and process:
        stages ask for empty frames often, and pandera's fixed cost dwarfs an empty frame's)."""
        if self.name not in _EMPTY:
            _EMPTY[self.name] = conform(self, pd.DataFrame({c: [] for c in self.columns}))
        return _EMPTY[self.name].copy()


_EMPTY: dict[str, pd.DataFrame] = {}


def _dataset(
    name: str, description: str, columns: dict[str, pa.Column], key: tuple[str, ...], is_view: bool = False,
    sort_by: tuple[str, ...] = ("written_at",),
) -> Dataset:
    schema = pa.DataFrameSchema(columns, name=name, description=description, strict=True, coerce=True)
    return Dataset(name, schema, key, is_view, tuple(c for c in sort_by if c in columns))


_ARROW_TYPES = {
    "boolean": pyarrow.bool_(),
    "str": pyarrow.string(),
    "int64": pyarrow.int64(),
    "Int64": pyarrow.int64(),
    "float64": pyarrow.float64(),
    "bool": pyarrow.bool_(),
    TS: pyarrow.timestamp("us", tz="UTC"),
}

_RUN = {"run_id": _str(description="demo_run_config.run_id of the run that wrote the row")}
_WRITTEN_AT = {"written_at": _ts(description="the tick at which the row became true (never the wall clock)")}
_DATA_VERSION = {
    "version": _int(description="the store's evaluation version at written_at: its data version (the highest "
                    "feed_version of its sales up to then) + the model generation - 1 (a row is superseded once "
                    "the data or the models behind it change; stages.versions)")
}

UNIFIED_SALES_DATA = _dataset(
    "unified_sales_data",
    "Every landed retailer row, parsed: one row per line of a landing file.",
    {
        "retailer": _str(),
        "store_id": _str(),
        "sku": _str(),
        "ts": _ts(description="start of the 5-minute tick, UTC"),
        "units": _float(description="units sold in the tick; negative units are returns"),
        "sales_value": _float(),
        "feed_version": _int(checks=pa.Check.ge(1)),
        "source_file": _str(description="landing file, relative to the data dir"),
        "source_line": _int(description="1-based data line in the source file"),
        **_WRITTEN_AT,
        **_RUN,
    },
    key=("source_file", "source_line", "run_id"),
    sort_by=("source_file", "source_line"),
)

def _file_dead_letters(name: str, description: str) -> Dataset:
    """Dead letters of rows read from files: where each came from, what it said, what is wrong."""
    return _dataset(
        name,
        description,
        {
            "source_file": _str(description="relative to the data dir"),
            "source_line": _int(description="1-based data line; 0 when the whole file is unreadable"),
            "raw_payload": _str(description="the raw row as JSON"),
            "error": _str(),
            **_RUN,
        },
        key=("source_file", "source_line", "run_id"),
        sort_by=("source_file", "source_line"),
    )


UNIFIED_SALES_DATA_ERRORS = _file_dead_letters(
    "unified_sales_data_errors", "Dead letters of ingestion: landed rows (or whole files) that could not be parsed."
)

EVALUATION_VERSIONS = _dataset(
    "evaluation_versions",
    "Per store, the steps of its evaluation version: from effective_from on, its history was "
    "re-evaluated by a resend with a higher feed_version (seed 001 §12) or a new model generation "
    "(§10); effective_to ends what that re-evaluation covered. Rows of older versions are superseded.",
    {
        "store_id": _str(),
        "version": _int(checks=pa.Check.ge(1)),
        "data_version": _int(checks=pa.Check.ge(1), description="the highest feed_version up to effective_from"),
        "model_generation": _int(checks=pa.Check.ge(1)),
        "effective_from": _ts(),
        "effective_to": _ts(),
        **_RUN,
    },
    key=("store_id", "effective_from", "run_id"),
    is_view=True,
)

MODEL_GENERATIONS = _dataset(
    "model_generations",
    "The detection models' generations: a row whenever the baseline or classifier model version "
    "changes. A generation after the first re-evaluates history from effective_from (the recall window).",
    {
        "generation": _int(checks=pa.Check.ge(1)),
        "baseline_model_version": _str(),
        "classifier_model_version": _str(),
        "effective_from": _ts(nullable=True, description="the first tick re-evaluated; NULL: all history"),
        "written_at": _ts(description="the newest tick of the data when the generation was registered"),
        **_RUN,
    },
    key=("generation", "run_id"),
)

SALES_TIMESERIES_DATA = _dataset(
    "sales_timeseries_data",
    "The sales series per store x SKU x tick, one row per feed_version; "
    "the current series is the highest feed_version per (store_id, sku, ts).",
    {
        "retailer": _str(),
        "store_id": _str(),
        "sku": _str(),
        "ts": _ts(),
        "units": _float(),
        "sales_value": _float(),
        "feed_version": _int(checks=pa.Check.ge(1)),
        **_WRITTEN_AT,
        **_RUN,
    },
    key=("store_id", "sku", "ts", "feed_version", "run_id"),
    sort_by=("ts", "store_id", "sku", "feed_version"),
)

SALES_DAILY_SUMMARY = _dataset(
    "sales_daily_summary",
    "The current sales series per store x SKU x UTC day x feed_version: its first and last tick and its "
    "sales. What the stages that need all history read instead of the series (evaluation versions, the "
    "stores' watermarks, segment trends); a run scoped from a tick recomputes the days from that tick's on.",
    {
        "store_id": _str(),
        "sku": _str(),
        "day": _ts(description="the UTC day's start"),
        "feed_version": _int(checks=pa.Check.ge(1)),
        "first_ts": _ts(),
        "last_ts": _ts(),
        "sales_value": _float(),
        **_RUN,
    },
    key=("store_id", "sku", "day", "feed_version", "run_id"),
    is_view=True,
)

BASELINE_SALES_MODEL_PREDICTION_LOG = _dataset(
    "baseline_sales_model_prediction_log",
    "Expected units and sales per store x SKU x tick, learned from the days before the tick.",
    {
        "store_id": _str(),
        "sku": _str(),
        "ts": _ts(),
        "expected_units": _float(checks=pa.Check.ge(0)),
        "expected_sales_value": _float(nullable=True),
        "model_version": _str(),
        **_WRITTEN_AT,
        **_DATA_VERSION,
        **_RUN,
    },
    key=("store_id", "sku", "ts", "version", "run_id"),
    sort_by=("ts", "store_id", "sku"),
)

ANOMALY_CLASSIFIER_MODEL_PREDICTION_LOG = _dataset(
    "anomaly_classifier_model_prediction_log",
    "Per-tick anomaly score (Poisson surprise, -log10 p) and flag for every scored series.",
    {
        "store_id": _str(),
        "sku": _str(),
        "ts": _ts(),
        "anomaly_score": _float(checks=pa.Check.ge(0)),
        "anomaly_flag": _bool(),
        "direction": _one_of(DIRECTIONS, nullable=True),
        "window_ticks": _int(checks=pa.Check.ge(0)),
        "severity_score": _float(checks=pa.Check.in_range(0, 1)),
        "model_version": _str(),
        **_WRITTEN_AT,
        **_DATA_VERSION,
        **_RUN,
    },
    key=("store_id", "sku", "ts", "version", "run_id"),
    sort_by=("ts", "store_id", "sku"),
)

MINORITY_REPORTS_DETECTED_LOG = _dataset(
    "minority_reports_detected_log",
    "MRDL: one row per anomalous store x SKU run of ticks, re-emitted at each tick it grows.",
    {
        "report_id": _str(description="hash(store_id || sku || first_detected_from)"),
        "store_id": _str(),
        "sku": _str(),
        "first_detected_from": _ts(),
        "window_start": _ts(),
        "window_end": _ts(description="start of the last anomalous tick so far"),
        "direction": _one_of(DIRECTIONS),
        "observed_units": _float(),
        "baseline_units": _float(),
        "observed_sales_total": _float(),
        "baseline_sales_total": _float(),
        "attributed_sales_total": _float(description="observed minus baseline sales: money at stake, signed"),
        "severity_score": _float(checks=pa.Check.in_range(0, 1)),
        "detection_mode": _one_of(DETECTION_MODES),
        "is_degraded": _bool(),
        "model_version": _str(),
        **_WRITTEN_AT,
        **_DATA_VERSION,
        **_RUN,
    },
    key=("report_id", "written_at", "version", "store_id", "sku", "run_id"),
)

_EVENT_STATE = {
    "store_id": _str(),
    "first_detected_from": _ts(),
    "window_start": _ts(),
    "window_end": _ts(),
    "severity_score": _float(checks=pa.Check.in_range(0, 1)),
    "impact_estimate": _float(description="sum of |attributed_sales_total| of the event's reports"),
    "baseline_sales_total": _float(),
    "attributed_sales_total": _float(),
    "event_status": _one_of(EVENT_STATUSES),
}

MINORITY_REPORTS_COHORTED_LOG = _dataset(
    "minority_reports_cohorted_log",
    "MRCH: the evolving state of each event, one snapshot per (store_id, report_id, written_at).",
    {
        "report_id": _str(description="hash(store_id || first_detected_from)"),
        **_EVENT_STATE,
        **_WRITTEN_AT,
        **_DATA_VERSION,
        **_RUN,
    },
    key=("report_id", "written_at", "version", "store_id", "run_id"),
)

MINORITY_EVENT_LOG = _dataset(
    "minority_event_log",
    "MELOG: the event registry: a row when an event is created and a final row when it ends.",
    {
        "event_id": _str(description="same as the cohorted report_id"),
        **_EVENT_STATE,
        "created_at": _ts(),
        "finalized_at": _ts(nullable=True),
        **_WRITTEN_AT,
        **_DATA_VERSION,
        **_RUN,
    },
    key=("event_id", "written_at", "version", "store_id", "run_id"),
)

MINORITY_EVENTS_ENDED_LOG = _dataset(
    "minority_events_ended_log",
    "MEEL: one row per event closure, with why it closed.",
    {
        "event_id": _str(),
        "store_id": _str(),
        "window_start": _ts(),
        "window_end": _ts(),
        "finalized_at": _ts(),
        "resolution_reason": _str(),
        **_WRITTEN_AT,
        **_DATA_VERSION,
        **_RUN,
    },
    key=("event_id", "written_at", "version", "store_id", "run_id"),
)

# The columns that place a row of a per-report log at one tick of one MRDL report.
REPORT_TICK_COLUMNS = ["report_id", "store_id", "sku", "written_at", "version"]

_REPORT_ROW = {
    "report_id": _str(description="the MRDL report"),
    "store_id": _str(),
    "sku": _str(),
}

MINORITY_REPORTS_CLUSTERED_LOG = _dataset(
    "minority_reports_clustered_log",
    "MRCL: the cause pattern each report shares with others, as known at each tick of the report.",
    {
        **_REPORT_ROW,
        "cluster_id": _str(nullable=True, description="NULL when clustering failed: 'unclustered'"),
        "cluster_label": _one_of(CLUSTER_LABELS, nullable=True),
        "cluster_size": _int(nullable=True, description="stores (sku_across_stores, region_multi_store) or SKUs"),
        **_WRITTEN_AT,
        **_DATA_VERSION,
        **_RUN,
    },
    key=("report_id", "written_at", "version", "store_id", "sku", "run_id"),
)

MINORITY_REPORTS_PROPOSED_ATTRIBUTION_LOG = _dataset(
    "minority_reports_proposed_attribution_log",
    "MRPAL: the machine's proposed cause of each report, with its confidence and evidence.",
    {
        **_REPORT_ROW,
        "proposed_cause": _one_of(CAUSES),
        "confidence_score": _float(nullable=True, checks=pa.Check.in_range(0, 1),
                                   description="NULL when an input was down (seed 001 §5)"),
        "campaign_id": _str(nullable=True),
        "context_event_id": _str(nullable=True),
        "cluster_id": _str(nullable=True),
        "evidence": _str(description="why: the rule that matched"),
        **_WRITTEN_AT,
        **_DATA_VERSION,
        **_RUN,
    },
    key=("report_id", "written_at", "version", "store_id", "sku", "run_id"),
)

_EDIT = {
    "analyst_id": _str(),
    "verdict": _one_of(VERDICTS, nullable=True),
    "cause_override": _one_of(CAUSES, nullable=True),
    "note": _str(nullable=True),
    "written_at": _ts(description="when the analyst made the edit"),
    **_RUN,
}

USER_EDITS_LOG = _dataset(
    "user_edits_log",
    "Analysts' edits of minority reports (mrs edit report): a verdict, a cause override, a note.",
    {"edit_id": _str(), **_REPORT_ROW, **_EDIT},
    key=("edit_id", "run_id"),
)

USER_MINORITY_EVENTS_EDITS_LOG = _dataset(
    "user_minority_events_edits_log",
    "Analysts' edits of minority events (mrs edit event): a verdict, a cause override, a note.",
    {"edit_id": _str(), "event_id": _str(), "store_id": _str(), **_EDIT},
    key=("edit_id", "run_id"),
)

def _source() -> pa.Column:
    return _one_of(SOURCES, nullable=True, description="which log gave this field group (NULL: none could)")


_CAUSE_GROUP = {
    "proposed_cause": _one_of(CAUSES, nullable=True, description="the machine's proposal"),
    "confidence_score": _float(nullable=True, checks=pa.Check.in_range(0, 1)),
    "cause": _one_of(CAUSES, nullable=True, description="the analyst's override, else the proposal"),
    "source_used_cause": _source(),
}
_REVIEW_GROUP = {
    "verdict": _one_of(VERDICTS, nullable=True),
    "note": _str(nullable=True),
    "analyst_id": _str(nullable=True),
    "source_used_review": _source(),
}

_CONSOLIDATED_REPORT = {
    **_REPORT_ROW,
    "first_detected_from": _ts(),
    "window_start": _ts(),
    "window_end": _ts(),
    "direction": _one_of(DIRECTIONS),
    "observed_sales_total": _float(),
    "baseline_sales_total": _float(),
    "attributed_sales_total": _float(),
    "severity_score": _float(checks=pa.Check.in_range(0, 1)),
    "detection_mode": _one_of(DETECTION_MODES),
    "source_used_detection": _source(),
    "cluster_id": _str(nullable=True),
    "cluster_label": _one_of(CLUSTER_LABELS, nullable=True),
    "source_used_cluster": _source(),
    **_CAUSE_GROUP,
    "event_id": _str(nullable=True),
    "event_status": _one_of(EVENT_STATUSES, nullable=True),
    "resolution_reason": _str(nullable=True),
    "source_used_event": _source(),
    **_REVIEW_GROUP,
    "is_degraded": _bool(),
    "report_status": _str(description="proposed | reviewed | superseded | finalisation_degraded_<first reason>"),
    "degraded_reasons": _str(description="comma-separated codes (seed 001 §7), empty when not degraded"),
    "correction_status": _one_of(CORRECTION_STATUSES, nullable=True,
                                 description="what a corrected resend did to the report; NULL: untouched"),
    **_WRITTEN_AT,
    **_DATA_VERSION,
    **_RUN,
}

MINORITY_REPORTS_FINALISED_LOG = _dataset(
    "minority_reports_finalised_log",
    "MRFL: one consolidated row per report, field groups merged by an explicit precedence chain "
    "with the source of each and the degradation behind it; a new row whenever that changes.",
    _CONSOLIDATED_REPORT,
    key=("report_id", "written_at", "version", "store_id", "sku", "report_status", "run_id"),
)

MINORITY_REPORTS = _dataset(
    "minority_reports",
    "Hydrated current state of every report (the consolidation of MRFL, recomputed from the logs, "
    "optionally as of a written_at).",
    _CONSOLIDATED_REPORT,
    key=("report_id", "run_id"),
    is_view=True,
)

MINORITY_EVENTS = _dataset(
    "minority_events",
    "Hydrated current state of every minority event: window, status, totals, cause, cluster, decision.",
    {
        "event_id": _str(),
        **_EVENT_STATE,
        "created_at": _ts(),
        "finalized_at": _ts(nullable=True),
        "resolution_reason": _str(nullable=True),
        "report_count": _int(nullable=True),
        "skus": _str(nullable=True),
        "cluster_id": _str(nullable=True),
        **_CAUSE_GROUP,
        **_REVIEW_GROUP,
        "is_degraded": _bool(),
        "degraded_reasons": _str(),
        "assigned_to": _str(nullable=True, description="the analyst the event is assigned to for review"),
        **_WRITTEN_AT,
        **_RUN,
    },
    key=("event_id", "run_id"),
    is_view=True,
)

INSIGHTS = _dataset(
    "insights",
    "Minority events ranked by money at stake (seed 003's insights): what happened, where, why and "
    "what it is worth, with a one-line finding an analyst can share as is.",
    {
        "rank": _int(checks=pa.Check.ge(1), description="1 = the most money at stake"),
        "event_id": _str(),
        "store_id": _str(),
        "region": _str(nullable=True),
        "window_start": _ts(),
        "window_end": _ts(),
        "event_status": _one_of(EVENT_STATUSES),
        "direction": _one_of(DIRECTIONS),
        "cause": _one_of(CAUSES, nullable=True),
        "confidence_score": _float(nullable=True, checks=pa.Check.in_range(0, 1)),
        "verdict": _one_of(VERDICTS, nullable=True),
        "cluster_id": _str(nullable=True),
        "cluster_label": _one_of(CLUSTER_LABELS, nullable=True),
        "cluster_stores": _int(checks=pa.Check.ge(1), description="stores with reports in the event's cluster"),
        "skus": _str(nullable=True),
        "campaign_id": _str(nullable=True),
        "observed_sales_total": _float(),
        "baseline_sales_total": _float(),
        "sales_at_stake": _float(description="observed minus baseline sales of the event's reports: signed"),
        "money_at_stake": _float(checks=pa.Check.ge(0), description="the ranking key: |sales_at_stake|"),
        "lift": _float(nullable=True, description="observed / baseline sales (NULL when the baseline is 0)"),
        "finding": _str(description="the event in one plain-English line"),
        **_RUN,
    },
    key=("event_id", "run_id"),
    is_view=True,
)

SEGMENT_DIMENSIONS = ("region", "category", "cause", "cohort")
TREND_PERIODS = ("day", "week")

SEGMENT_TRENDS = _dataset(
    "segment_trends",
    "Per segment (region, category, cause, cohort) and period (day, ISO week): events, sales at "
    "stake, the share of sales affected, and the change against the previous period (seed 003).",
    {
        "dimension": _one_of(SEGMENT_DIMENSIONS),
        "segment": _str(),
        "period": _one_of(TREND_PERIODS),
        "period_start": _ts(),
        "events": _int(checks=pa.Check.ge(0), description="minority events with a report in the segment"),
        "sales_at_stake": _float(checks=pa.Check.ge(0), description="sum of |observed - baseline| of those reports"),
        "sales_total": _float(description="the segment's sales; a cause's are all sales"),
        "share_affected": _float(checks=pa.Check.in_range(0, 1),
                                 description="sales in anomalous report windows / sales_total"),
        "events_change": _int(nullable=True, description="events minus the previous period's (NULL: first period)"),
        "sales_at_stake_change": _float(nullable=True, description="sales_at_stake minus the previous period's"),
        **_RUN,
    },
    key=("dimension", "segment", "period", "period_start", "run_id"),
    is_view=True,
)

ENTITY_TYPES = ("store", "sku", "combo")
COHORT_KINDS = ("static", "dynamic")
MEMBERSHIP_CHANGES = ("added", "removed")
ASSIGNMENT_STRATEGIES = ("round_robin", "capacity_weighted")
ASSIGNMENT_JOB_STATUSES = ("queued", "running", "completed", "failed")

COMBO_CATALOG = _dataset(
    "combo_catalog",
    "The append-only, versioned catalog of combos, the monitored store x SKU series (seed 002): a "
    "series seen for the first time is appended under a new catalog version.",
    {
        "combo_id": _str(description="stable id of (store_id, sku)"),
        "version": _int(checks=pa.Check.ge(1), description="the catalog version that first listed it"),
        "store_id": _str(),
        "sku": _str(),
        "created_at": _ts(description="the first tick of the series"),
        **_RUN,
    },
    key=("combo_id", "run_id"),
)

COHORT_METRICS = _dataset(
    "cohort_metrics",
    "Derived metrics cohort rules may use (cohorts.fields), per combo as of the newest tick.",
    {
        "combo_id": _str(),
        "store_id": _str(),
        "sku": _str(),
        "avg_daily_units": _float(description="mean units per trading day over the last 7 days"),
        "events_last_7d": _float(description="minority events of the combo ending in the last 7 days"),
        "store_open_events": _float(description="minority events of the store still active"),
        "as_of": _ts(description="the newest tick of the data"),
        **_RUN,
    },
    key=("combo_id", "run_id"),
    is_view=True,
)

COHORT_MEMBERSHIP_LOG = _dataset(
    "cohort_membership_log",
    "Each generation of each cohort's membership as the members it added and removed (seed 002's "
    "membership, keyed by (entity_type, member_id)); replaying it gives any generation's members.",
    {
        "cohort_id": _str(),
        "generation": _int(checks=pa.Check.ge(1)),
        "entity_type": _one_of(ENTITY_TYPES),
        "member_id": _str(description="store_id, sku or combo_id"),
        "store_id": _str(nullable=True),
        "sku": _str(nullable=True),
        "change": _one_of(MEMBERSHIP_CHANGES),
        **_WRITTEN_AT,
        **_RUN,
    },
    key=("cohort_id", "generation", "entity_type", "member_id", "run_id"),
)

EVENT_ASSIGNMENTS_LOG = _dataset(
    "event_assignments_log",
    "Minority events assigned to analysts for review (mrs cohort assign): one row per event, never "
    "assigned twice.",
    {
        "event_id": _str(),
        "store_id": _str(),
        "cohort_id": _str(),
        "analyst_id": _str(),
        "strategy": _one_of(ASSIGNMENT_STRATEGIES),
        "job_id": _str(nullable=True, description="the CAJ-N job that assigned it; NULL when assigned inline"),
        "written_at": _ts(description="when it was assigned (wall clock, as analysts' edits: capacity is per day)"),
        **_RUN,
    },
    key=("event_id", "run_id"),
)

COHORT_ASSIGNMENT_JOBS_LOG = _dataset(
    "cohort_assignment_jobs_log",
    "Assignment jobs (CAJ-N) of 100 events or more, run as Dagster runs: a row per state change and "
    "every 10 events of progress; the newest row of a job is its state.",
    {
        "job_id": _str(),
        "cohort_id": _str(),
        "status": _one_of(ASSIGNMENT_JOB_STATUSES),
        "strategy": _one_of(ASSIGNMENT_STRATEGIES),
        "analyst_ids": _str(description="comma-separated"),
        "total": _int(description="open events of the cohort not yet assigned"),
        "processed": _int(),
        "assigned_count": _int(),
        "failed_count": _int(),
        "unassigned_count": _int(description="events no analyst had capacity left for today"),
        "failures": _str(description="JSON list of {event_id, error}"),
        "dagster_run_id": _str(nullable=True),
        "written_at": _ts(description="when the job reached this state (wall clock)"),
        **_RUN,
    },
    key=("job_id", "status", "processed", "run_id"),
)

ALERT_STATUSES = ("raised", "cleared")

ALERTS_LOG = _dataset(
    "alerts_log",
    "SLO alerts (seed 001 §11): one 'raised' row when a check starts to breach, one 'cleared' row when "
    "it passes again; never a row per evaluation.",
    {
        "alert_id": _str(description="one per breach: raised and cleared rows share it"),
        "asset": _str(),
        "check_name": _str(),
        "status": _one_of(ALERT_STATUSES),
        "severity": _str(),
        "detail": _str(description="the check's metadata as JSON"),
        "written_at": _ts(description="when the evaluation that raised or cleared it ran"),
        **_RUN,
    },
    key=("alert_id", "status", "run_id"),
)

HEALTH = _dataset(
    "health",
    "Per log, the state at a glance (seed 001 §11 health views): newest written_at, rows by status, "
    "dead letters, degraded share, attribution coverage and lag behind the data.",
    {
        "dataset": _str(),
        "last_written_at": _ts(nullable=True),
        "rows": _int(),
        "rows_by_status": _str(description="JSON: rows per value of the log's status column"),
        "dead_letters": _int(),
        "degraded_share": _float(nullable=True, checks=pa.Check.in_range(0, 1)),
        "coverage": _float(nullable=True, checks=pa.Check.in_range(0, 1)),
        "lag_minutes": _float(nullable=True),
        "slo_minutes": _float(nullable=True, description="the most lag_minutes the log's SLO allows"),
        "slo_met": pa.Column("boolean", nullable=True),
        **_RUN,
    },
    key=("dataset", "run_id"),
    is_view=True,
)

DATA_GAPS = _dataset(
    "data_gaps",
    "Where a store's data is missing during its trading hours (a silent feed, a day not delivered): "
    "those ticks are not scored as zero sales until the data arrives.",
    {
        "store_id": _str(),
        "gap_start": _ts(),
        "gap_end": _ts(description="the last missing tick"),
        "ticks": _int(),
        **_RUN,
    },
    key=("store_id", "gap_start", "run_id"),
    is_view=True,
)

DEMO_RUN_CONFIG = _dataset(
    "demo_run_config",
    "The run_id stamped on every row, and the config file it came from.",
    {"run_id": _str(), "config_source": _str()},
    key=("run_id", "config_source"),
)

# The logs the pipeline's stages write (each with its `<name>_errors` dead letters).
_LOGS = (
    SALES_TIMESERIES_DATA,
    BASELINE_SALES_MODEL_PREDICTION_LOG,
    ANOMALY_CLASSIFIER_MODEL_PREDICTION_LOG,
    MINORITY_REPORTS_DETECTED_LOG,
    MINORITY_REPORTS_COHORTED_LOG,
    MINORITY_EVENT_LOG,
    MINORITY_EVENTS_ENDED_LOG,
    MINORITY_REPORTS_CLUSTERED_LOG,
    MINORITY_REPORTS_PROPOSED_ATTRIBUTION_LOG,
    MINORITY_REPORTS_FINALISED_LOG,
)


def _errors_dataset(log: Dataset) -> Dataset:
    return _dataset(
        f"{log.name}_errors",
        f"Dead letters of {log.name}: rows its stage produced that break the contract (seed 001 §3).",
        {
            "report_id": _str(nullable=True, description="the row's report_id or event_id, where it has one"),
            "raw_payload": _str(description="the row as JSON"),
            "error": _str(),
            **_RUN,
        },
        key=("raw_payload", "error", "run_id"),
    )


REFERENCE_DATA_ERRORS = _file_dead_letters(
    "reference_data_errors",
    "Dead letters of reference data: rows of reference/*.csv that cannot be used (blank ids, bad dates).",
)

STAGE_ERRORS: dict[str, Dataset] = {log.name: _errors_dataset(log) for log in _LOGS}
# Dead-letter tables written beside an asset's output, not assets of their own (see `mrs errors`).
DEAD_LETTER_TABLES = frozenset({*(errors.name for errors in STAGE_ERRORS.values()), REFERENCE_DATA_ERRORS.name})

DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        *STAGE_ERRORS.values(),
        REFERENCE_DATA_ERRORS,
        DEMO_RUN_CONFIG,
        UNIFIED_SALES_DATA,
        UNIFIED_SALES_DATA_ERRORS,
        SALES_DAILY_SUMMARY,
        EVALUATION_VERSIONS,
        MODEL_GENERATIONS,
        *_LOGS,
        USER_EDITS_LOG,
        USER_MINORITY_EVENTS_EDITS_LOG,
        MINORITY_REPORTS,
        MINORITY_EVENTS,
        INSIGHTS,
        SEGMENT_TRENDS,
        HEALTH,
        DATA_GAPS,
        ALERTS_LOG,
        COMBO_CATALOG,
        COHORT_METRICS,
        COHORT_MEMBERSHIP_LOG,
        EVENT_ASSIGNMENTS_LOG,
        COHORT_ASSIGNMENT_JOBS_LOG,
    )
}


def conform(dataset: Dataset, df: pd.DataFrame) -> pd.DataFrame:
    """Validate `df` against the dataset's contract; return it coerced, in contract column order.
    `df` itself is left as it was."""
    return _in_order(dataset, _validated(dataset, df))


def _validated(dataset: Dataset, df: pd.DataFrame) -> pd.DataFrame:
    # pandera's own copy of the frame costs seconds on a big log; a shallow copy keeps `df` intact
    # as well, since coercing replaces a column of the copy rather than writing into it. pandera
    # sets every coerced column back, which copies it even when coercing changed nothing (a second
    # copy of a whole log per write and per check), so only the columns not in their contract's
    # dtype are coerced: coercing a column already in it returns the column unchanged.
    # Text in an object column is still coerced (`Text.coerce` turns a cell that is not text into text).
    to_coerce = frozenset(_off_dtype(dataset, df, text_dtypes=(TEXT_DTYPE,)))
    return _coercing(dataset, to_coerce).validate(df.copy(deep=False), lazy=True, inplace=True)


_COERCING: dict[tuple[str, frozenset[str]], pa.DataFrameSchema] = {}


def _coercing(dataset: Dataset, columns: frozenset[str]) -> pa.DataFrameSchema:
    """The dataset's schema, coercing only `columns`."""
    key = (dataset.name, columns)
    if key not in _COERCING:
        schema = dataset.schema.update_columns({name: {"coerce": name in columns} for name in dataset.schema.columns})
        schema.coerce = False
        _COERCING[key] = schema
    return _COERCING[key]


def _off_dtype(dataset: Dataset, df: pd.DataFrame, text_dtypes: tuple) -> list[str]:
    """The columns of `df` in the contract whose dtype is not the contract's (a text column's
    counts when it is one of `text_dtypes`)."""
    contract = dataset.schema.columns

    def in_dtype(name: str) -> bool:
        dtype = contract[name].dtype
        return df[name].dtype in text_dtypes if isinstance(dtype, Text) else str(df[name].dtype) == str(dtype)

    return [name for name in df.columns if name in contract and not in_dtype(name)]


def coerced(dataset: Dataset, df: pd.DataFrame) -> pd.DataFrame:
    """Stored rows in the contract's dtypes and column order, without running its checks again:
    they ran when the rows were written, and the blocking contract checks re-run them per log.
    Only the columns not read in their contract dtype are coerced (coercing copies a column)."""
    # A text column comes out of Arrow as TEXT_DTYPE: nothing to coerce.
    differ = _off_dtype(dataset, df, text_dtypes=(object, TEXT_DTYPE))
    if differ:
        df = df.assign(**dataset.schema.select_columns(differ).coerce_dtype(df[differ].copy()))
    return _in_order(dataset, df)


def _in_order(dataset: Dataset, df: pd.DataFrame) -> pd.DataFrame:
    # Selecting columns copies every row, even when they are in order already.
    return df if list(df.columns) == dataset.columns else df[dataset.columns]


def split_valid(dataset: Dataset, df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the rows that pass the contract, conformed; the others with an `error` column). Problems
    with the frame as a whole (a missing column) still raise: no row of it could be valid."""
    try:
        return conform(dataset, df), df.iloc[0:0].assign(error=pd.Series(dtype=str))
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        if cases["index"].isna().any():
            raise
        reasons = (cases["column"].astype(str) + ": " + cases["check"].astype(str)).groupby(cases["index"]).agg("; ".join)
        bad = df.index.isin(reasons.index)
        return conform(dataset, df[~bad]), df[bad].assign(error=reasons.reindex(df.index[bad]).to_numpy())


# Reference inputs are read, not written; their expected columns live here too.
REFERENCE_COLUMNS: dict[str, tuple[str, ...]] = {
    "stores": ("store_id", "retailer", "region", "format"),
    "skus": ("sku", "category", "brand", "unit_price"),
    "campaigns": ("campaign_id", "kind", "store_id", "region", "sku", "category", "start", "end"),
    "context_events": ("event_id", "kind", "region", "store_id", "start", "end", "description"),
    "analysts": ("analyst_id", "name", "active", "daily_capacity"),
}
# Without these a reference file is unusable; any other column may be absent (schema drift) and
# reads as blank, the reference files' NULL.
REFERENCE_REQUIRED: dict[str, tuple[str, ...]] = {
    "stores": ("store_id", "region"),
    "skus": ("sku", "category"),
    "campaigns": ("campaign_id", "start", "end"),
    "context_events": ("event_id", "kind", "start", "end"),
    "analysts": ("analyst_id", "active"),
}
LANDING_COLUMNS = ("retailer", "store_id", "sku", "ts", "units", "sales_value")
TRUTH_COLUMNS = ("store_id", "sku", "start", "end", "cause")


@dataclass(frozen=True)
class ContractReport:
    """What a dataset's rows break: pandera failures, duplicated idempotent keys, required NULLs."""

    contract_failures: pd.DataFrame  # pandera failure cases (column, check, failure_case)
    duplicate_keys: int  # rows beyond the first of each idempotent key
    required_nulls: dict[str, int]  # non-nullable column -> NULL count (only columns with NULLs)


def contract_report(dataset: Dataset, df: pd.DataFrame, *, count_duplicates: bool = True) -> ContractReport:
    """Check stored rows against their contract (the asset checks of every log); without
    `count_duplicates`, report no duplicate key (for rows a key can span, counted apart)."""
    try:
        _validated(dataset, df)
        failures = pd.DataFrame(columns=["column", "check", "failure_case"])
    except pa.errors.SchemaErrors as error:
        failures = error.failure_cases[["column", "check", "failure_case"]].astype(str)
    required = [name for name, col in dataset.schema.columns.items() if not col.nullable and name in df.columns]
    # Column by column: `df[required]` would copy every row of a big log.
    nulls = {c: int(n) for c in required if (n := df[c].isna().sum())}
    return ContractReport(failures, duplicate_keys(dataset, df) if count_duplicates else 0, nulls)


def duplicate_keys(dataset: Dataset, df: pd.DataFrame) -> int:
    """Rows of `df` beyond the first of each idempotent key (of the key columns `df` has)."""
    return int(dataset.key_duplicated(df).sum())


def merged_report(reports: list[ContractReport]) -> ContractReport:
    """The report of rows checked in parts (`contract_report` of each) that no key spans."""
    nulls = Counter()
    for report in reports:
        nulls.update(report.required_nulls)
    return ContractReport(pd.concat([report.contract_failures for report in reports], ignore_index=True),
                          sum(report.duplicate_keys for report in reports), dict(nulls))
