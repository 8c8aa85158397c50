"""Dagster types of the data contracts, so every asset output is validated and its schema shown."""

from __future__ import annotations

from dagster import DagsterType
from dagster_pandera import pandera_schema_to_dagster_type

from mrs_dagster.contracts import DATASETS

DAGSTER_TYPES: dict[str, DagsterType] = {name: pandera_schema_to_dagster_type(ds.schema) for name, ds in DATASETS.items()}
