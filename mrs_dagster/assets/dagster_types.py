"""Each dataset's contract as Dagster sees it: the output type that validates every asset output
(dagster-pandera) and the column schema shown on the asset's page."""

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
    return {"dagster_type": _DAGSTER_TYPES[name], "metadata": contract_metadata(name)}
