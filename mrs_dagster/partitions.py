"""Store-shard partitions: detection and cohorting run one store shard per partition, so a replay
touches only the shards of the stores it replays and shards run side by side. Everything that
needs every store (clustering, attribution, finalisation, hydrate) is unpartitioned and reads all
shards' rows."""

from __future__ import annotations

import os

from dagster import StaticPartitionsDefinition

from mrs_dagster.stages.shards import StoreShard

STORE_SHARDS_ENV = "MRS_STORE_SHARDS"
# The embedded default is unpartitioned: on the demo world (12 stores, 2 cores) 4 shards took 70 s
# against 49 s for one run, as each shard run pays its own start-up and sales read (README: scaling out).
DEFAULT_STORE_SHARDS = 0
# The logs computed per store: the assets that take the store-shard partitions.
SHARDED_LOGS = (
    "baseline_sales_model_prediction_log",
    "anomaly_classifier_model_prediction_log",
    "minority_reports_detected_log",
    "minority_reports_cohorted_log",
    "minority_event_log",
    "minority_events_ended_log",
)


def store_shard_count() -> int:
    """The shard count from MRS_STORE_SHARDS (default 0: unpartitioned)."""
    raw = os.environ.get(STORE_SHARDS_ENV, str(DEFAULT_STORE_SHARDS)).strip()
    if not raw.isdigit():
        raise ValueError(f"{STORE_SHARDS_ENV}={raw!r}: the store shard count must be a whole number (0: unpartitioned)")
    return int(raw)


def store_shards(count: int) -> StaticPartitionsDefinition | None:
    """The partitions "1-of-N" … "N-of-N", or None for `count` 0 (unpartitioned)."""
    return StaticPartitionsDefinition([shard.key for shard in StoreShard.all(count)]) if count else None


def running_shard(context) -> StoreShard | None:
    """The store shard a step computes (an asset's context, or the step context an input is loaded
    in): the run's partition when the step's asset is sharded, else None (every store)."""
    assets_def = context.assets_def
    sharded = assets_def is not None and assets_def.partitions_def is not None and any(
        key.path[-1] in SHARDED_LOGS for key in assets_def.keys)
    return StoreShard.parse(context.partition_key) if sharded and context.has_partition_key else None


def checked_shard(context, name: str) -> StoreShard | None:
    """The store shard an asset check of log `name` checks: the run's, when the log is sharded."""
    op = context.op_execution_context
    return StoreShard.parse(op.partition_key) if name in SHARDED_LOGS and op.has_partition_key else None
