import pandas as pd
from dagster import AssetExecutionContext, asset

from mrs_dagster.assets.dagster_types import contract
from mrs_dagster.resources import MRSConfig


@asset(group_name="config", **contract("demo_run_config"))
def demo_run_config(context: AssetExecutionContext, mrs: MRSConfig) -> pd.DataFrame:
    """The run_id stamped on every row (seed 001: advancing it gives clean run-scoped views)."""
    run_id = mrs.current_run_id()
    context.add_output_metadata({"run_id": run_id})
    return pd.DataFrame({"run_id": [run_id], "config_source": [str(mrs.run_config_source())]})
