"""Where the per-store stages run: pandas in this process (the default), or Apache Spark.

Detection and cohorting are per store. On Spark, every input is split by `store_id` with
`groupBy("store_id").applyInPandas`, and each store's rows go through the same stage function the
pandas engine calls with every store at once. The stage functions loop over stores themselves, so
the two engines give the same rows (`mrs_dagster_tests/test_engines.py`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Literal

import pandas as pd
import pyarrow
from dagster import ConfigurableResource
from pydantic import Field

from mrs_dagster.contracts import DATASETS, coerced

# A stage run per store: its inputs by name (None: an input that is down) to its output frames.
StoreStage = Callable[[dict[str, pd.DataFrame | None]], tuple[pd.DataFrame, ...]]
_INPUT, _OUTPUT = "_mrs_input", "_mrs_output"
ENGINE_ENV = "MRS_ENGINE"


class StageEngine(ConfigurableResource):
    """The engine of the per-store stages (baseline, classifier, detection, cohorting), set in the
    launchpad under `resources.engine.config` (its default from MRS_ENGINE): `pandas` (default) or
    `spark`, which needs the `spark` extra (`pip install -e ".[spark]"`) and Java 17. `spark_master` is the Spark master
    (`local[2]`, `spark://host:7077`, `yarn`, `k8s://https://host:443`); `spark_conf` is passed to
    the session as is (executors, memory, the Kubernetes image...)."""

    engine: Literal["pandas", "spark"] = Field(
        default_factory=lambda: os.environ.get(ENGINE_ENV, "pandas"), validate_default=True)
    spark_master: str = "local[2]"
    spark_conf: dict[str, str] = Field(default_factory=dict)

    def per_store(self, stage: StoreStage, inputs: dict[str, pd.DataFrame | None], outputs: list[str]) -> list[pd.DataFrame]:
        """Run `stage` over `inputs` (frames with a `store_id` column, or None), returning the
        frames of the datasets named in `outputs`, in that order."""
        if self.engine == "pandas":
            return list(stage(inputs))
        return spark_per_store(self.spark_session(), stage, inputs, outputs)

    def spark_session(self):
        from pyspark.sql import SparkSession

        # The Python workers need this interpreter (its packages): local mode reads the variable.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = (SparkSession.builder.master(self.spark_master).appName("mrs")
                   .config("spark.sql.session.timeZone", "UTC")
                   .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                   .config("spark.pyspark.python", sys.executable))
        for key, value in self.spark_conf.items():
            builder = builder.config(key, value)
        return builder.getOrCreate()


def spark_per_store(spark, stage: StoreStage, inputs: dict[str, pd.DataFrame | None], outputs: list[str]) -> list[pd.DataFrame]:
    """`stage` per store on Spark. The inputs travel as one tagged frame (Spark groups one frame,
    or cogroups two, and stages take up to four), the outputs come back as one tagged frame."""
    from pyspark.sql.pandas.types import from_arrow_schema

    present = {name: frame for name, frame in inputs.items() if frame is not None}
    dtypes = {name: frame.dtypes.to_dict() for name, frame in present.items()}
    tagged = pd.concat([frame.assign(**{_INPUT: name}) for name, frame in present.items()], ignore_index=True)
    out_columns = list(dict.fromkeys(c for name in outputs for c in DATASETS[name].columns))
    schema = _tagged_schema(outputs, out_columns)

    def run_store(rows: pd.DataFrame) -> pd.DataFrame:
        store_inputs = {name: None for name in inputs}
        for name, frame in rows.groupby(_INPUT):
            store_inputs[name] = _restored(frame[list(dtypes[name])], dtypes[name])
        for name in present:
            if store_inputs[name] is None:  # none of this store's rows: an empty frame, not a down input
                store_inputs[name] = pd.DataFrame({c: pd.Series(dtype=d) for c, d in dtypes[name].items()})
        tables = [_tagged_table(frame, name, schema) for name, frame in zip(outputs, stage(store_inputs))]
        return pyarrow.concat_tables(tables).to_pandas()

    result = spark.createDataFrame(tagged).groupBy("store_id").applyInPandas(
        run_store, schema=from_arrow_schema(schema)).toPandas()
    return [coerced(DATASETS[name], _utc(result.loc[result[_OUTPUT] == name, DATASETS[name].columns])
                    .reset_index(drop=True)) for name in outputs]


def _tagged_schema(outputs: list[str], columns: list[str]) -> pyarrow.Schema:
    fields = {f.name: f for name in outputs for f in DATASETS[name].arrow_schema()}
    return pyarrow.schema([fields[c] for c in columns] + [pyarrow.field(_OUTPUT, pyarrow.string())])


def _tagged_table(frame: pd.DataFrame, name: str, schema: pyarrow.Schema) -> pyarrow.Table:
    """One output's rows in the tagged schema, NULL in the other outputs' columns."""
    own = pyarrow.schema([f for f in schema if f.name in frame.columns])
    table = pyarrow.Table.from_pandas(frame[own.names], schema=own, preserve_index=False)
    columns = [table.column(f.name) if f.name in own.names else pyarrow.nulls(len(frame), f.type) for f in schema]
    columns[-1] = pyarrow.array([name] * len(frame), pyarrow.string())
    return pyarrow.Table.from_arrays(columns, schema=schema)


def _restored(frame: pd.DataFrame, dtypes: dict) -> pd.DataFrame:
    """A frame back in the dtypes it had before Spark (which hands timestamps over naive, in UTC)."""
    frame = _utc(frame.reset_index(drop=True))
    return frame.astype({c: d for c, d in dtypes.items() if not isinstance(d, pd.DatetimeTZDtype)})


def _utc(frame: pd.DataFrame) -> pd.DataFrame:
    naive = [c for c in frame.columns if pd.api.types.is_datetime64_dtype(frame[c]) and frame[c].dt.tz is None]
    return frame.assign(**{c: frame[c].dt.tz_localize("UTC") for c in naive})
