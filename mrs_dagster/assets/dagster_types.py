"""Each dataset's contract as Dagster sees it: the column schema shown on the asset's page (built
by dagster-pandera) and the idempotent key. Outputs are validated where they are written
(`Lake.write`): rows that break the contract become dead letters instead of failing the step,
and the blocking contract checks stop what is downstream."""

from __future__ import annotations

import warnings

from dagster import DagsterType
from dagster_pandera import pandera_schema_to_dagster_type

from mrs_dagster.contracts import DATASETS

with warnings.catch_warnings():  # beta in dagster-pandera; we pin it exactly (see pyproject.toml)
    warnings.simplefilter("ignore")
    _DAGSTER_TYPES: dict[str, DagsterType] = {name: pandera_schema_to_dagster_type(ds.schema) for name, ds in DATASETS.items()}


def contract_metadata(name: str) -> dict:
    """Definition metadata showing dataset `name`'s columns and idempotent key in the UI."""
    return {
        "dagster/column_schema": _DAGSTER_TYPES[name].metadata["schema"].schema,
        "idempotent_key": ", ".join(DATASETS[name].key),
    }


def contract(name: str) -> dict:
    """Keyword arguments for an `@asset` or `AssetOut` producing dataset `name`."""
    return {"metadata": contract_metadata(name)}
