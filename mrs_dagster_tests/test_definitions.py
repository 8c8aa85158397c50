"""The code location: every dataset is an asset with its contract, and the main job covers them."""

from dagster import AssetKey

from mrs_dagster.assets.cohorts import COHORT_LOGS
from mrs_dagster.assets.review import EDITS_LOGS
from mrs_dagster.contracts import DATASETS, DEAD_LETTER_TABLES
from mrs_dagster.definitions import MAIN_JOB, defs


def test_every_dataset_is_an_asset_showing_its_contract_columns():
    graph = defs.resolve_asset_graph()
    for name, dataset in DATASETS.items():
        if name in DEAD_LETTER_TABLES:  # written beside their log, listed by `mrs errors`
            continue
        node = graph.get(AssetKey(name))
        schema = node.metadata["dagster/column_schema"]
        assert [c.name for c in schema.columns] == dataset.columns, name
        assert node.metadata["idempotent_key"] == ", ".join(dataset.key)


def test_main_job_materializes_every_dataset_but_edits_alerts_and_dead_letters_and_the_dashboard():
    job = defs.resolve_job_def(MAIN_JOB)
    produced = {key.path[-1] for key in job.asset_layer.executable_asset_keys}
    external = {spec.key.path[-1] for spec in [*EDITS_LOGS, *COHORT_LOGS]} | {"alerts_log"}
    assert produced == set(DATASETS) - external - DEAD_LETTER_TABLES | {"dashboard"}  # a site, not a dataset
