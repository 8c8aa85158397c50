"""Stage logic: pure pandas functions with no Dagster import, no I/O and no clock."""
