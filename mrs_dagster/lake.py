"""The lake: every MRS log is an append-only Apache Iceberg table under `<data dir>/lake/`.

pyiceberg with a SQLite catalog, so nothing runs as a server. One Iceberg commit per append makes
a write all-or-nothing: a crash mid-write leaves no partial rows visible. Appends dedup on the
dataset's idempotent key, so re-running over the same inputs appends nothing.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.conversions import from_bytes
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError, TableAlreadyExistsError
from pyiceberg.expressions import (
    AlwaysTrue,
    And,
    BooleanExpression,
    EqualTo,
    GreaterThanOrEqual,
    In,
    LessThan,
    LessThanOrEqual,
)
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table

from mrs_dagster.contracts import ARROW_TEXT, DATASETS, STAGE_ERRORS, Dataset, coerced, conform, split_valid
from mrs_dagster.stages.frames import in_batches, without
from mrs_dagster.stages.ingest import SERIES_COLUMNS, current_sales_series
from mrs_dagster.stages.order import is_sorted
from mrs_dagster.stages.shards import StoreShard
from mrs_dagster.stages.timestamps import as_utc


@dataclass(frozen=True)
class TimeSpan:
    """Rows whose time `column` is from `start` (inclusive) to `end` (exclusive); None: unbounded."""

    column: str
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None

    def row_filter(self) -> BooleanExpression:
        row_filter: BooleanExpression = AlwaysTrue()
        if self.start is not None:
            row_filter = And(row_filter, GreaterThanOrEqual(self.column, self.start.isoformat()))
        if self.end is not None:
            row_filter = And(row_filter, LessThan(self.column, self.end.isoformat()))
        return row_filter


class UnknownDatasetError(KeyError):
    def __str__(self) -> str:
        return f"unknown dataset {self.args[0]!r}; known datasets: {', '.join(sorted(DATASETS))}"


def dataset(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise UnknownDatasetError(name) from None


DEFAULT_NAMESPACE = "mrs"
# Store shards append to the same tables at once; Iceberg's optimistic commit lets one win and the
# others retry against the new snapshot (their keys are disjoint, so the dedup read stays right).
COMMIT_ATTEMPTS = 8
# Rows per Parquet row group: the grain at which a time-window read skips history.
ROW_GROUP_ROWS = 131_072
# Parquet properties of a new table. A column chunk's dictionary stops at 128 KiB (pyiceberg's default
# is 2 MiB): a row group's measures (doubles, mostly distinct) then fall back to plain encoding
# early instead of being dictionary-encoded whole, while stores, SKUs and run ids keep their
# dictionaries. On the 11.6M-row baseline log: written in 1.8 s against 2.7 s, read in 1.0 s against
# 1.7 s, 173 MB against 215 MB.
TABLE_PROPERTIES = {"write.parquet.row-group-limit": str(ROW_GROUP_ROWS),
                    "write.parquet.dict-size-bytes": str(128 * 1024)}
# A dedup lookup by a text column's values (the source files or the stores of new rows) lists at most this many.
KEY_LOOKUP_VALUES = 1_000
# SQLite catalogs kept open per process (see `_catalog`).
OPEN_CATALOGS = 8
# Current sales series kept per process (see `Lake.current_series`): an incremental run reads the
# three look-back windows of it (the stages that need all history read `sales_daily_summary`).
KEPT_CURRENT_SERIES = 3
_catalogs: OrderedDict[tuple, tuple[SqlCatalog, set[str]]] = OrderedDict()
_catalogs_lock = threading.Lock()  # the review console opens lakes from several threads


def _catalog(lake_dir: Path, namespace: str) -> SqlCatalog:
    """The lake's SQLite catalog, with `namespace` in it, opened once per process and kept (the
    few most recent): opening one (an SQLAlchemy engine, its tables and the namespace checked)
    costs ~9 ms, and a run opens the lake hundreds of times. Keyed by the process, because a
    connection must not cross a fork, and by the catalog file's inode, so a lake deleted and made
    again at the same path is opened anew (the pooled connection keeps the old inode from reuse)."""
    path = (lake_dir / "catalog.db").resolve()
    with _catalogs_lock:
        key = (os.getpid(), path, path.stat().st_ino if path.exists() else None)
        if key not in _catalogs:
            catalog = SqlCatalog("mrs", uri=f"sqlite:///{path}", warehouse=(lake_dir / "warehouse").resolve().as_uri())
            key = (*key[:2], path.stat().st_ino)
            _catalogs[key] = (catalog, set())
            while len(_catalogs) > OPEN_CATALOGS:
                _catalogs.popitem(last=False)[1][0].engine.dispose()
        _catalogs.move_to_end(key)
        catalog, namespaces = _catalogs[key]
        if namespace not in namespaces:
            catalog.create_namespace_if_not_exists(namespace)
            namespaces.add(namespace)
        return catalog


class Lake:
    """Append-only tables of one data dir, in one Iceberg namespace."""

    def __init__(self, lake_dir: Path | str, namespace: str = DEFAULT_NAMESPACE):
        self.lake_dir = Path(lake_dir)
        self.namespace = namespace
        self.lake_dir.mkdir(parents=True, exist_ok=True)
        self.catalog = _catalog(self.lake_dir, namespace)

    def _identifier(self, name: str) -> tuple[str, str]:
        return (self.namespace, dataset(name).name)

    def exists(self, name: str) -> bool:
        # Listing the namespace reads the catalog only; `table_exists` loads the table's metadata.
        return self._identifier(name) in self.catalog.list_tables(self.namespace)

    def _table(self, name: str):
        ds = dataset(name)
        try:
            return self.catalog.load_table(self._identifier(name))
        except NoSuchTableError:
            try:
                return self.catalog.create_table(self._identifier(name), schema=ds.arrow_schema(),
                                                 properties=TABLE_PROPERTIES)
            except TableAlreadyExistsError:  # another shard created it first
                return self.catalog.load_table(self._identifier(name))

    def append(self, name: str, df: pd.DataFrame) -> int:
        """Validate `df` against its contract and append the rows whose key is not yet stored.

        Returns the number of rows appended (0 on a replay of the same inputs).
        """
        return self._append_conformed(name, conform(dataset(name), df))

    def _append_conformed(self, name: str, rows: pd.DataFrame) -> int:
        # Rows a stage wrote in the key's order need neither a dedup nor a sort: one pass tells.
        ds = dataset(name)
        in_order = ds.in_key_order(rows)
        if not in_order:
            rows = without(rows, ds.key_duplicated(rows))
        if rows.empty:
            return 0
        for attempt in range(COMMIT_ATTEMPTS - 1):
            try:
                return self._append_new(name, rows, in_order)
            except CommitFailedException:
                time.sleep(0.05 * 2**attempt)
        return self._append_new(name, rows, in_order)

    def _append_new(self, name: str, rows: pd.DataFrame, in_order: bool) -> int:
        ds = dataset(name)
        table = self._table(name)
        stored_keys = _pandas(table.scan(row_filter=_key_lookup(ds, rows), selected_fields=ds.key).to_arrow())
        if not stored_keys.empty:
            stored_keys = conform_keys(ds, stored_keys).drop_duplicates()  # a broken writer's duplicates
            merged = rows.merge(stored_keys.assign(_stored=True), on=list(ds.key), how="left")
            rows = without(rows, merged["_stored"].notna().to_numpy())
        if rows.empty:
            return 0
        # In one chunk: pyiceberg packs a table's record batches into data files first-fit, so the
        # many small batches of text in a chunk per store or delivery land in files each spanning
        # all rows, where one chunk's batches make files of consecutive rows. Files that split
        # the `sort_by` order (the rows sorted or not) let a time window's scan skip files and a
        # check read back rows whose order shows them distinct (`distinct_by_order`). And Arrow
        # takes rows across many chunks at twice the cost of one (a model log: 2.5 s against 1.3 s).
        new = pyarrow.Table.from_pandas(rows, schema=ds.arrow_schema(), preserve_index=False).combine_chunks()
        if ds.sort_by and not (in_order or is_sorted(rows, list(ds.sort_by))):
            # Sorted in Arrow: a pandas sort copies every text cell as a Python object.
            new = new.take(pc.sort_indices(new, [(column, "ascending") for column in ds.sort_by]))
        table.append(new)
        return len(rows)

    def write(self, name: str, df: pd.DataFrame) -> tuple[int, int]:
        """Append the rows that pass the contract (dedup on the key) and route the others to the
        log's `<name>_errors` dead letters, so one bad row never costs the valid ones.

        Returns (rows appended, rows dead-lettered)."""
        errors = STAGE_ERRORS.get(name)
        if errors is None:
            return self.append(name, df), 0
        valid, invalid = split_valid(dataset(name), df)
        if not invalid.empty:
            self.append(errors.name, dead_letters(invalid))
        return self._append_conformed(name, valid), len(invalid)

    @property
    def dashboard_dir(self) -> Path:
        """Where the dashboard's static site is written: `lake/dashboard/` (a dry run's beside it)."""
        return self.lake_dir / ("dashboard" if self.namespace == DEFAULT_NAMESPACE else f"dashboard_{self.namespace}")

    def _view_path(self, name: str) -> Path:
        return self.lake_dir / "views" / self.namespace / f"{name}.parquet"

    def replace_view(self, name: str, df: pd.DataFrame) -> int:
        """Validate and replace a hydrated view whole (write aside, then an atomic rename)."""
        rows = conform(dataset(name), df)
        path = self._view_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        staged = path.with_suffix(".parquet.partial")
        rows.to_parquet(staged, index=False)
        os.replace(staged, path)
        return len(rows)

    def read(
        self,
        name: str,
        *,
        as_of: pd.Timestamp | str | None = None,
        run_id: str | None = None,
        columns: list[str] | None = None,
        store_ids: list[str] | None = None,
        shard: StoreShard | None = None,
        since: pd.Timestamp | None = None,
        source_files: list[str] | None = None,
        span: TimeSpan | None = None,
    ) -> pd.DataFrame:
        """The whole table, or its rows with `written_at <= as_of`, or `>= since` (an incremental
        run's window), or those of one `run_id`, or of the stores in `store_ids` or in one store
        `shard`, or landed in `source_files`, or within a time `span`; only `columns` when given
        (for the monitors, which need a column or two of big logs). A table's filters are pushed
        into its scan, which holds only the matching rows of one data file at a time.

        A table never written reads as an empty frame with the contract's columns. A hydrated view
        is already the state as of its hydration: `as_of` does not apply to it. Rows come back in
        the contract's dtypes; they were validated when written (`contracts.coerced`).
        """
        ds = dataset(name)
        if ds.is_view:
            if as_of is not None:
                raise ValueError(f"{name} is a hydrated view: hydrate it as of a time (mrs hydrate --as-of) instead")
            path = self._view_path(name)
            frame = _pandas(_in_shard(pq.read_table(path), shard)) if path.is_file() else ds.empty()
            if run_id is not None:
                frame = frame[frame["run_id"] == run_id]
            if since is not None:
                frame = frame[frame["written_at"] >= as_utc(since)]
            if store_ids is not None:
                frame = frame[frame["store_id"].isin([str(s) for s in store_ids])]
            return coerced(ds, frame)
        if not self.exists(name):
            return ds.empty()[columns] if columns else ds.empty()
        row_filter = _run_window(run_id, since)
        if as_of is not None:
            row_filter = And(row_filter, LessThanOrEqual("written_at", as_utc(as_of).isoformat()))
        if store_ids is not None:
            row_filter = And(row_filter, In("store_id", [str(s) for s in store_ids]))
        if shard is not None:
            row_filter = And(row_filter, In("store_id", shard.stores(self.distinct(name, "store_id", run_id))))
        if source_files is not None:
            row_filter = And(row_filter, In("source_file", list(source_files)))
        if span is not None:
            row_filter = And(row_filter, span.row_filter())
        table = self.catalog.load_table(self._identifier(name))
        if columns:
            # Ordered in Arrow: selecting columns of the pandas frame would copy every row.
            return _pandas(table.scan(row_filter=row_filter, selected_fields=tuple(columns)).to_arrow().select(columns))
        return coerced(ds, _pandas(table.scan(row_filter=row_filter).to_arrow()))

    def newest(self, name: str, column: str, run_id: str | None = None) -> pd.Timestamp | None:
        """The latest `column` time of a table's rows (of `run_id`'s), None when there are none:
        from the data files' column bounds when each file holds only those rows (`_run_files`),
        else taken in Arrow; once per snapshot of the table in this process (a run asks for the
        newest tick often)."""
        snapshot = self._snapshot(name)
        return None if snapshot is None else _newest(self.lake_dir.resolve(), self.namespace, name, snapshot, column, run_id)

    def distinct_rows(self, name: str, columns: list[str], run_id: str | None = None,
                      since: pd.Timestamp | None = None) -> pd.DataFrame:
        """The distinct combinations of a table's `columns` (of `run_id`'s rows written from
        `since`), in no order: found in Arrow a record batch at a time, so a log of tens of millions
        of rows is never whole in memory when what differs in it is small (the ticks of each store)."""
        parts = []
        if self.exists(name):
            table = self.catalog.load_table(self._identifier(name))
            scan = table.scan(row_filter=_run_window(run_id, since), selected_fields=tuple(columns))
            parts = [pyarrow.Table.from_batches([batch]).group_by(columns).aggregate([])
                     for batch in scan.to_arrow_batch_reader()]
        if not parts:
            return dataset(name).empty()[columns]
        return _pandas(pyarrow.concat_tables(parts).group_by(columns).aggregate([]).select(columns))

    def distinct(self, name: str, column: str, run_id: str | None = None) -> frozenset:
        """The distinct values of a table's `column` (of `run_id`'s rows), taken in Arrow, once per
        snapshot of the table in this process (every store shard's read asks for its stores)."""
        snapshot = self._snapshot(name)
        if snapshot is None:
            return frozenset()
        return _distinct(self.lake_dir.resolve(), self.namespace, name, snapshot, column, run_id)

    def store_batches(self, name: str, rows: int) -> list[StoreShard]:
        """The stores of a table split into batches of about `rows` rows each, at most one per
        store (as store shards: a store's batch is a hash of its id), for a stage that is computed
        per store but over all of them a batch at a time."""
        table = self.catalog.load_table(self._identifier(name)) if self.exists(name) else None
        snapshot = table.metadata.current_snapshot() if table is not None else None
        stored = int(snapshot.summary["total-records"]) if snapshot is not None and snapshot.summary else 0
        return StoreShard.all(max(1, min(-(-stored // rows), len(self.distinct(name, "store_id")))))

    def delivery_batches(self, name: str, rows: int, run_id: str | None = None, since: pd.Timestamp | None = None,
                         *, newest_first: bool = False) -> list[list[str]]:
        """The deliveries (`source_file`) of a table's rows (of `run_id`'s, written from `since`) in
        batches of about `rows` rows of whole deliveries, in name order or `newest_first`. A table
        written in `source_file` order has files of consecutive deliveries, so a batch's read
        (`Lake.read(source_files=...)`) opens only its files."""
        landed = self.read(name, run_id=run_id, since=since, columns=["source_file"])["source_file"].value_counts()
        deliveries = sorted(landed.items(), reverse=newest_first)
        return [[source_file for source_file, _ in batch]
                for batch in in_batches(deliveries, rows, size=lambda delivery: delivery[1])]

    def time_batches(self, name: str, column: str, rows: int, run_id: str | None = None,
                     since: pd.Timestamp | None = None) -> list[TimeSpan] | None:
        """The rows of a table (of `run_id`'s, written from `since`) in spans of its time `column`
        of about `rows` rows each, cut where a data file's rows start (from the files' bounds: no
        row is read), or None when a file has no bound on it. A table written in that column's
        order reads only the row groups of a span."""
        if not self.exists(name):
            return [TimeSpan(column)]
        table = self.catalog.load_table(self._identifier(name))
        field = table.schema().find_field(column)
        files = [task.file for task in table.scan(row_filter=_run_window(run_id, since)).plan_files()]
        if any(field.field_id not in file.lower_bounds for file in files):
            return None
        starts = sorted((from_bytes(field.field_type, file.lower_bounds[field.field_id]), file.record_count)
                        for file in files)
        cuts, held = [], 0
        for start, records in starts:
            # Cut before a file that would take the span past `rows`, never at the first start (an
            # empty span): files that start together stay together.
            if held and held + records > rows and start > starts[0][0]:
                cuts.append(pd.Timestamp(start, unit="us", tz="UTC"))
                held = 0
            held += records
        bounds = [None, *dict.fromkeys(cuts), None]
        return [TimeSpan(column, low, high) for low, high in zip(bounds, bounds[1:])]

    def count(self, name: str, run_id: str | None = None) -> int:
        """How many rows a table or view holds (of `run_id`'s): a table's from its data files' row
        counts when each file holds only those rows (`_run_files`), else counted in Arrow."""
        if dataset(name).is_view:
            return len(self.read(name, run_id=run_id))
        if not self.exists(name):
            return 0
        files = _run_files(self.catalog.load_table(self._identifier(name)), run_id)
        if files is None:
            return len(self._column(name, "run_id", run_id))
        return sum(file.record_count for file in files)

    def _column(self, name: str, column: str, run_id: str | None) -> pyarrow.ChunkedArray:
        table = self.catalog.load_table(self._identifier(name))
        return table.scan(row_filter=_run_window(run_id), selected_fields=(column,)).to_arrow()[column]

    def current_series(self, run_id: str, *, since: pd.Timestamp | None = None,
                       shard: StoreShard | None = None) -> pd.DataFrame:
        """The current sales series (`current_sales_series`; its SERIES_COLUMNS) of `run_id`'s rows
        written from `since` (None: all), of one store `shard` (None: all stores).

        Most stages of a run read it, and on a long history reading and ordering it costs seconds
        each time, so it is made once per snapshot of `sales_timeseries_data` in this process and
        shared: callers get a shallow copy and must not change its values in place."""
        snapshot = self._snapshot("sales_timeseries_data")
        if snapshot is None:
            return dataset("sales_timeseries_data").empty()[list(SERIES_COLUMNS)]
        return _current_series(self.lake_dir.resolve(), self.namespace, snapshot, run_id, since, shard).copy(deep=False)

    def _snapshot(self, name: str) -> int | None:
        """The id of the table's current snapshot (None: never written), which names its content."""
        if not self.exists(name):
            return None
        return self.catalog.load_table(self._identifier(name)).metadata.current_snapshot_id


# `snapshot` (the table's current one when called) keys both caches: an append makes a new one.
@functools.lru_cache(maxsize=32)
def _newest(lake_dir: Path, namespace: str, name: str, snapshot: int, column: str,
            run_id: str | None) -> pd.Timestamp | None:
    lake = Lake(lake_dir, namespace)
    table = lake.catalog.load_table(lake._identifier(name))
    files = _run_files(table, run_id)
    if files is None:
        newest = pc.max(lake._column(name, column, run_id)).as_py()
        return None if newest is None else pd.Timestamp(newest).tz_convert("UTC").as_unit("ns")
    field = table.schema().find_field(column)
    # A file whose column is all NULL has no bound; its rows have no time to offer.
    bounds = [from_bytes(field.field_type, file.upper_bounds[field.field_id]) for file in files
              if field.field_id in file.upper_bounds]
    return pd.Timestamp(max(bounds), unit="us", tz="UTC").as_unit("ns") if bounds else None


def _run_window(run_id: str | None, since: pd.Timestamp | None = None) -> BooleanExpression:
    """The rows of `run_id` (all, for None) written from `since` (None: all history)."""
    row_filter: BooleanExpression = AlwaysTrue()
    if since is not None:
        row_filter = And(row_filter, GreaterThanOrEqual("written_at", as_utc(since).isoformat()))
    return row_filter if run_id is None else And(row_filter, EqualTo("run_id", run_id))


def _run_files(table: Table, run_id: str | None) -> list[DataFile] | None:
    """The table's data files with rows of `run_id` (all, for None) when every row of each is of
    it (both its `run_id` bounds are `run_id`: a run_id longer than the 16 characters Iceberg keeps
    of a text bound never is), else None: what a count or a newest time can take from the metadata
    without reading a column whose cost grows with the history."""
    files = [task.file for task in table.scan(row_filter=_run_window(run_id)).plan_files()]
    if run_id is None:
        return files
    field_id, bound = table.schema().find_field("run_id").field_id, run_id.encode()
    whole = all(file.lower_bounds.get(field_id) == bound == file.upper_bounds.get(field_id)
                and not file.null_value_counts.get(field_id) for file in files)
    return files if whole else None


@functools.lru_cache(maxsize=32)
def _distinct(lake_dir: Path, namespace: str, name: str, snapshot: int, column: str, run_id: str | None) -> frozenset:
    return frozenset(pc.unique(Lake(lake_dir, namespace)._column(name, column, run_id)).to_pylist())


@functools.lru_cache(maxsize=KEPT_CURRENT_SERIES)
def _current_series(lake_dir: Path, namespace: str, snapshot: int, run_id: str, since: pd.Timestamp | None,
                    shard: StoreShard | None) -> pd.DataFrame:
    rows = Lake(lake_dir, namespace).read("sales_timeseries_data", run_id=run_id, since=since, shard=shard,
                                          columns=list(SERIES_COLUMNS))
    return current_sales_series(rows)


def _pandas(rows: pyarrow.Table) -> pd.DataFrame:
    """Arrow rows in pandas: text as `TEXT_DTYPE` (its Arrow buffers, not a Python object a cell),
    times in the contracts' nanoseconds (Iceberg stores microseconds), both converted in Arrow, as
    pandera's coercion of a column costs seconds on a big log."""
    return rows.to_pandas(coerce_temporal_nanoseconds=True, types_mapper=ARROW_TEXT)


def _key_lookup(ds: Dataset, rows: pd.DataFrame) -> BooleanExpression:
    """The stored rows that can share a key with `rows`: those within the new rows' range of the
    first sort column when it is part of the key (the table is written in that order, so the scan
    reads only the row groups of that range), and of the new rows' stores when the key has one
    (a retailer's delivery then reads none of the other retailers' keys of the same ticks)."""
    column = ds.sort_by[0] if ds.sort_by and ds.sort_by[0] in ds.key else None
    lookup = AlwaysTrue() if column is None else _values_lookup(rows[column], column)
    if "store_id" in ds.key and column != "store_id" and rows["store_id"].notna().all():
        lookup = And(lookup, _values_lookup(rows["store_id"], "store_id"))
    return lookup


def _values_lookup(values: pd.Series, column: str) -> BooleanExpression:
    """`column` within the range of `values` (times), or among them (at most KEY_LOOKUP_VALUES)."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return And(GreaterThanOrEqual(column, values.min().isoformat()), LessThanOrEqual(column, values.max().isoformat()))
    distinct = values.unique()
    return In(column, distinct.tolist()) if len(distinct) <= KEY_LOOKUP_VALUES else AlwaysTrue()


def _in_shard(rows: pyarrow.Table, shard: StoreShard | None) -> pyarrow.Table:
    """The rows of `shard`'s stores of a hydrated view, filtered in Arrow: a shard converts only
    its own rows to pandas."""
    if shard is None:
        return rows
    stores = shard.stores(pc.unique(rows["store_id"]).to_pylist())
    return rows.filter(pc.is_in(rows["store_id"], value_set=pyarrow.array(stores, type=rows.schema.field("store_id").type)))


def dead_letters(invalid: pd.DataFrame) -> pd.DataFrame:
    """Dead-letter rows (report_id where known, the row as JSON, the error) for invalid rows."""
    ids = invalid["report_id"] if "report_id" in invalid else invalid.get("event_id", pd.Series(None, index=invalid.index))
    payload = invalid.drop(columns="error").to_json(orient="records", lines=True, date_format="iso").splitlines()
    run_id = invalid["run_id"].fillna("unknown") if "run_id" in invalid else "unknown"
    return pd.DataFrame(
        {"report_id": ids.astype(object).where(ids.notna(), None), "raw_payload": payload, "error": invalid["error"], "run_id": run_id}
    )


def conform_keys(ds: Dataset, keys: pd.DataFrame) -> pd.DataFrame:
    """Stored key columns with the dtypes the contract gives them, so they join with new rows."""
    return pd.DataFrame({c: ds.schema.columns[c].dtype.coerce(keys[c]) for c in ds.key})
