"""Dagster resources: where the data dir is, which run_id is current, how a run treats its inputs
(dry run, fault injection), what a replay recomputes, where alerts go, and the lake IO manager."""

import gc
import json
import os
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from dagster import Any, AssetIn, ConfigurableIOManager, ConfigurableResource, InputContext, OutputContext
from pydantic import Field, field_validator, model_validator

from mrs_dagster.lake import Lake, dataset
from mrs_dagster.partitions import running_shard
from mrs_dagster.stages import baseline, classifier
from mrs_dagster.stages.frames import without
from mrs_dagster.stages.timestamps import as_utc
from mrs_dagster.stages.versions import current_rows, model_version

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = PROJECT_ROOT / "data" / "demo"
RUN_CONFIG_FILE = "demo_run_config.json"


def default_data_dir() -> Path:
    return Path(os.environ.get("MRS_DATA_DIR") or DEFAULT_DATA_DIR).resolve()


class RunConfigError(ValueError):
    """demo_run_config.json is unreadable or has no usable run_id."""


class MRSConfig(ConfigurableResource):
    """The data dir MRS reads and writes, and the run_id stamped on every row.

    The run_id comes from `demo_run_config.json` in the data dir if it has one, else from the
    project's `data/demo_run_config.json`; `run_id` set here overrides both.
    """

    data_dir: str
    run_id: str | None = None
    currency: str = Field(default="£", min_length=1, max_length=3, description="the symbol money is shown in")

    @property
    def path(self) -> Path:
        return Path(self.data_dir)

    def run_config_source(self) -> Path:
        local = self.path / RUN_CONFIG_FILE
        return local if local.is_file() else PROJECT_ROOT / "data" / RUN_CONFIG_FILE

    def current_run_id(self) -> str:
        if self.run_id:
            return self.run_id
        source = self.run_config_source()
        try:
            run_id = json.loads(source.read_text()).get("run_id")
        except (OSError, ValueError, AttributeError) as error:
            raise RunConfigError(f"{source}: not a JSON object with a 'run_id' ({error})") from None
        if not isinstance(run_id, str) or not run_id.strip():
            raise RunConfigError(f"{source}: 'run_id' must be a non-empty string")
        return run_id.strip()

    def lake(self) -> Lake:
        return Lake(self.path / "lake")


DRY_RUN_NAMESPACE = "mrs_dry_run"
# Concurrency pools (bulkheads, seed 001 §8), limited in dagster.yaml.
DETECTION_POOL = "mrs_detection"
REFRESH_POOL = "mrs_refresh"
# Inputs whose loss degrades a stage instead of stopping it (seed 001 §5): what fault injection may drop.
NON_CRITICAL_INPUTS = (
    "stores",
    "skus",
    "campaigns",
    "context_events",
    "baseline_sales_model_prediction_log",
    "anomaly_classifier_model_prediction_log",
    "minority_reports_clustered_log",
    "minority_reports_proposed_attribution_log",
    "minority_reports_cohorted_log",
    "minority_events_ended_log",
    "user_edits_log",
    "user_minority_events_edits_log",
)


class RunMode(ConfigurableResource):
    """How a run treats its inputs (seed 001 §9), set per run in the launchpad under
    `resources.run_mode.config`: a dry run reads at most `dry_run_limit` rows of every input and
    writes to the `mrs_dry_run` namespace of the lake, never mixing with the real logs; `drop`
    names non-critical inputs to treat as down (fault injection), to prove the degrade path."""

    dry_run: bool = False
    dry_run_limit: int = 1000
    drop: list[str] = []
    flaky_reads: int = 0
    """Fail the first N reads of landing or reference files in the run with a TimeoutError, as a
    flaky network filesystem would (fault injection of a transient failure)."""
    batch_rows: int = Field(default=8_000_000, ge=1)
    """Rows a stage that goes over a big log in parts holds at a time: the deliveries being
    ingested (a few GiB of text being parsed), a batch of stores' current series (~0.5 GiB). Each
    part is an Iceberg commit (~0.1 s, more as a table's snapshots add up), so lower it only on a
    machine that runs out of memory."""

    @field_validator("drop")
    @classmethod
    def _droppable(cls, drop: list[str]) -> list[str]:
        unknown = sorted(set(drop) - set(NON_CRITICAL_INPUTS))
        if unknown:
            raise ValueError(f"{', '.join(unknown)} not droppable; choose from {', '.join(NON_CRITICAL_INPUTS)}")
        return drop

    def lake(self, mrs: MRSConfig) -> Lake:
        return Lake(mrs.path / "lake", namespace=DRY_RUN_NAMESPACE) if self.dry_run else mrs.lake()

    def limit(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame.head(self.dry_run_limit) if self.dry_run else frame

    def limit_frames(self, frames: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        """`frames` (an input read a part at a time), in a dry run only their first dry_run_limit
        rows in all, as `limit` reads of a whole input."""
        left = self.dry_run_limit if self.dry_run else None
        for frame in frames:
            if left is not None:
                if left <= 0:
                    return
                frame, left = frame.head(left), left - len(frame)
            yield frame

    def dropped(self, name: str) -> bool:
        return name in self.drop

    def read_attempt(self, run_id: str) -> None:
        """Call before reading landing or reference files: raises while injected failures remain."""
        failed = _INJECTED_READ_FAILURES.get(run_id, 0)
        if failed < self.flaky_reads:
            _INJECTED_READ_FAILURES[run_id] = failed + 1
            raise TimeoutError(f"injected transient read failure {failed + 1} of {self.flaky_reads}")


# Injected failures so far per Dagster run: retries of a step run in the same process.
_INJECTED_READ_FAILURES: dict[str, int] = {}


class ReplayScope(ConfigurableResource):
    """What a run recomputes: every store and tick by default; a replay (corrected feed, recall)
    narrows it to some stores and the ticks from `since` on. Set in the launchpad under
    `resources.scope.config`, or by the sensors' run requests."""

    stores: list[str] = []
    """Only these stores (empty: all)."""
    since: str | None = None
    """Only ticks at or after this ISO timestamp (naive = UTC); earlier rows are left as they are."""
    report_ids: list[str] = []
    """Only these reports (empty: all): what a recall re-evaluates."""
    max_stores: int = 25
    """The cap on a replay's worklist (seed 001 §8): the sensors split bigger replays into runs of
    at most this many stores, and a launch naming more is refused."""
    max_reports: int = 500
    """The same cap for a recall's reports."""

    @model_validator(mode="after")
    def _capped(self):
        if len(self.stores) > self.max_stores:
            raise ValueError(f"scope names {len(self.stores)} stores, more than max_stores={self.max_stores}")
        if len(self.report_ids) > self.max_reports:
            raise ValueError(f"scope names {len(self.report_ids)} reports, more than max_reports={self.max_reports}")
        return self

    def worklists(self, items: list[str], cap: int | None = None) -> list[list[str]]:
        """`items` (stores, or reports with `cap=max_reports`) split into runs of at most the cap."""
        cap = cap or self.max_stores
        return [items[i:i + cap] for i in range(0, len(items), cap)]

    def narrow(self, frame: pd.DataFrame, ts_column: str = "written_at") -> pd.DataFrame:
        """The rows of `frame` inside the scope."""
        keep = np.ones(len(frame), dtype=bool)
        if self.stores:
            keep &= frame["store_id"].isin(self.stores).to_numpy()
        if self.since:
            keep &= (frame[ts_column] >= as_utc(self.since)).to_numpy()
        return without(frame, ~keep)

    def window(self, lookback_days: int | None) -> pd.Timestamp | None:
        """Where a stage that looks back `lookback_days` whole days before a tick reads its inputs
        from in this scope: the start of `since`'s (UTC) day less that history. None, all history:
        without `since`, or for a stage that needs all of it (`lookback_days` None)."""
        if self.since is None or lookback_days is None:
            return None
        return as_utc(self.since).floor("D") - pd.Timedelta(days=lookback_days)

    def recalled(self, report_ids: set[str]) -> set[str]:
        """Of `report_ids`, those the scope re-evaluates (all of them without `report_ids`)."""
        return report_ids & set(self.report_ids) if self.report_ids else report_ids

    def stores_of(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of `frame` of the scope's stores (all history: a replay needs it)."""
        return frame[frame["store_id"].isin(self.stores)] if self.stores else frame


class DetectionModels(ConfigurableResource):
    """The detection models' settings. Their versions are the code's model versions, suffixed with
    a digest of any setting changed from its default: a new code version or a retuned setting is a
    model update, which registers a new model generation (`model_generations`) that re-evaluates
    the last `recall_days` days of history (seed 001 §10), and only them (`model_recall_sensor`)."""

    baseline_history_days: int = baseline.BaselineParams.history_days
    """Days of history the baseline's SKU level is the median of (at least its warm-up, 7; at most
    the day-of-week history, 28, which bounds what an incremental run reads)."""
    classifier_threshold: float = classifier.ScoringParams.threshold
    """The surprise (-log10 of the Poisson tail probability) a window must exceed to flag a tick."""
    classifier_spike_ratio: float = classifier.ScoringParams.spike_ratio
    classifier_drop_ratio: float = classifier.ScoringParams.drop_ratio
    recall_days: int = 7
    """How much history a model update re-evaluates: the newest tick's day and the days before it."""

    @field_validator("baseline_history_days")
    @classmethod
    def _warmed_up(cls, days: int) -> int:
        if days < baseline.BaselineParams.min_history_days:
            raise ValueError(f"baseline_history_days must be at least the warm-up, {baseline.BaselineParams.min_history_days}")
        if days > baseline.BASELINE_LOOKBACK_DAYS:
            raise ValueError(f"baseline_history_days must be at most the day-of-week history, {baseline.BASELINE_LOOKBACK_DAYS}")
        return days

    @field_validator("recall_days")
    @classmethod
    def _positive(cls, days: int) -> int:
        if days < 1:
            raise ValueError("recall_days must be at least 1")
        return days

    def baseline_params(self) -> baseline.BaselineParams:
        return baseline.BaselineParams(history_days=self.baseline_history_days)

    def scoring_params(self) -> classifier.ScoringParams:
        return classifier.ScoringParams(
            threshold=self.classifier_threshold, spike_ratio=self.classifier_spike_ratio, drop_ratio=self.classifier_drop_ratio
        )

    def versions(self) -> tuple[str, str]:
        """(baseline model version, classifier model version)."""
        return (model_version(baseline.MODEL_VERSION, self.baseline_params()),
                model_version(classifier.MODEL_VERSION, self.scoring_params()))


class AlertWebhook(ConfigurableResource):
    """Where SLO alerts are posted as JSON, besides alerts_log; no URL, no post. A webhook that
    fails is logged, never a lost alert: the alerts_log row is written first."""

    url: str | None = None
    timeout_seconds: float = 5.0

    def post(self, alerts: list[dict]) -> None:
        if not self.url or not alerts:
            return
        request = urllib.request.Request(
            self.url, data=json.dumps({"alerts": alerts}, default=str).encode(),
            headers={"Content-Type": "application/json"}, method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.timeout_seconds):
            pass


def lake_input(lookback_days: int | None = None, columns: tuple[str, ...] = ()) -> AssetIn:
    """An input a stage reads narrowly. In a run scoped `since` a tick (an incremental run, a
    replay), only the `lookback_days` whole days before the first tick it computes (None: all
    history); only `columns` when given (loaded as stored, not re-checked)."""
    return AssetIn(metadata={"lookback_days": lookback_days, "columns": list(columns) or None})


def current_series_input(lookback_days: int | None = None) -> AssetIn:
    """`sales_timeseries_data` as its current series (`Lake.current_series`: the highest
    feed_version per store, SKU and tick; SERIES_COLUMNS), over `lookback_days` as in `lake_input`."""
    return AssetIn("sales_timeseries_data", metadata={"lookback_days": lookback_days, "current_series": True})


def delivery_batches_input(lookback_days: int | None = None) -> AssetIn:
    """A log of landed rows (`source_file` in its key) as an iterator of its rows in batches of
    whole deliveries (about `RunMode.batch_rows` rows each), the newest deliveries (last in name
    order) first, over `lookback_days` as in `lake_input`."""
    return AssetIn(metadata={"lookback_days": lookback_days, "delivery_batches": True}, dagster_type=Any)


# A big step's frames can outlive it in reference cycles until Python's cyclic collector happens to
# run, which depends on how many objects the process has made: the peak of the same run on the same
# world moved between 6.3 and 9.8 GiB with nothing but the way it was started changed. They are
# collected once an output of this many rows is stored (a collection takes about 0.2 s here).
COLLECT_AFTER_ROWS = 1_000_000


class LakeIOManager(ConfigurableIOManager):
    """Appends each asset's DataFrame to its lake table (dedup on the dataset's key), or replaces a
    hydrated view, and loads a table back as the rows of the current run_id (empty, with the
    contract's columns, if unwritten). A log with data versions loads as its current rows: rows
    computed from data a retailer has since corrected, or by models since updated, stay in the
    table, never in an input. A store-sharded step loads only its shard's rows of every input; an
    input declared with `lake_input` loads only what it asks for."""

    mrs: MRSConfig
    run_mode: RunMode
    scope: ReplayScope

    def handle_output(self, context: OutputContext, obj: pd.DataFrame | Iterable[pd.DataFrame]) -> None:
        """`obj` is the asset's rows, or an iterable of frames appended one at a time (one Iceberg
        commit each), so an output bigger than memory is never whole in it."""
        name = context.asset_key.path[-1]
        lake = self.run_mode.lake(self.mrs)
        if dataset(name).is_view:
            context.add_output_metadata({"rows": lake.replace_view(name, obj)})
            return
        appended = dead = rows = 0
        for chunk in [obj] if isinstance(obj, pd.DataFrame) else obj:
            chunk_appended, chunk_dead = lake.write(name, chunk)
            appended, dead, rows = appended + chunk_appended, dead + chunk_dead, rows + len(chunk)
        context.add_output_metadata({"rows_appended": appended, "rows_in_output": rows, "dead_letters": dead})
        if dead:
            context.log.error(f"{dead} row(s) of {name} broke the contract: see {name}_errors (mrs errors {name})")
        if rows >= COLLECT_AFTER_ROWS:
            gc.collect()

    def load_input(self, context: InputContext) -> pd.DataFrame:
        lake, run_id = self.run_mode.lake(self.mrs), self.mrs.current_run_id()
        shard = running_shard(context.step_context)
        wanted = context.definition_metadata
        since = self.scope.window(wanted.get("lookback_days"))
        name = context.asset_key.path[-1]
        if wanted.get("current_series"):
            return self.run_mode.limit(lake.current_series(run_id, since=since, shard=shard))
        if wanted.get("delivery_batches"):
            return self.run_mode.limit_frames(self._delivery_batches(lake, name, run_id, since))
        rows = lake.read(name, run_id=run_id, shard=shard, since=since, columns=wanted.get("columns"))
        if {"store_id", "written_at", "version"} <= set(rows.columns):
            rows = current_rows(rows, lake.read("evaluation_versions", run_id=run_id, shard=shard))
        return self.run_mode.limit(rows)

    def _delivery_batches(self, lake: Lake, name: str, run_id: str,
                          since: pd.Timestamp | None) -> Iterator[pd.DataFrame]:
        for deliveries in lake.delivery_batches(name, self.run_mode.batch_rows, run_id, since, newest_first=True):
            yield lake.read(name, run_id=run_id, since=since, source_files=deliveries)
