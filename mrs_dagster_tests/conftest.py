from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetSelection, DagsterInstance, materialize

from mrs_dagster.definitions import ASSETS, build_resources
from mrs_dagster.partitions import SHARDED_LOGS
from mrs_dagster.synthetic import World, WorldSpec, generate_world, write_world
from mrs_dagster_tests.browsing import CHROMIUM, CHROMIUM_ARGS

# The logs computed from the landed data (everything a replay recomputes).
DERIVED_LOGS = [
    "sales_timeseries_data",
    *SHARDED_LOGS,
    "minority_reports_clustered_log",
    "minority_reports_proposed_attribution_log",
]

# A seed the detector was not tuned on (thresholds were tuned on seeds 11-14).
SMALL_WORLD = WorldSpec(seed=101, stores=6, skus=24, days=10)
# For tests that run the graph many times or only need its shape.
TINY_WORLD = WorldSpec(seed=101, stores=4, skus=12, days=9)


# The modules whose tests take longest (several whole-graph runs each; `--durations`), run first:
# the two xdist workers then share out the short tests at the end and finish together, instead of
# one running a long test alone while the other idles.
LONGEST_FIRST = ("test_corrected_feed", "test_incremental", "test_partitions", "test_recall", "test_dagster_ui",
                 "test_pipeline", "test_alerts", "test_operations")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        module = item.path.stem
        return LONGEST_FIRST.index(module) if module in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)


@pytest.fixture(scope="session")
def small_world() -> World:
    return generate_world(SMALL_WORLD)


@pytest.fixture(scope="session")
def tiny_world() -> World:
    return generate_world(TINY_WORLD)


@pytest.fixture
def world_dir(tmp_path: Path, request) -> Path:
    """The small world written to a temp data dir, or the world a `world` marker names on the test
    or its module (`pytest.mark.world("tiny_world")` for tests of mechanics, not of detection
    quality: a smaller world keeps the suite within its time)."""
    marker = request.node.get_closest_marker("world")
    world = request.getfixturevalue(marker.args[0] if marker else "small_world")
    write_world(world, tmp_path / "data")
    return tmp_path / "data"


@pytest.fixture
def dagster_instance():
    """A persistent Dagster instance in a temp dir, as `launch.run_staged` needs."""
    with DagsterInstance.local_temp() as instance:
        yield instance


# What most tests run: the graph up to the current state. Insights and the dashboard read that
# state and nothing reads them; the tests of them, and the whole-graph test, select them too.
UP_TO_HYDRATE = AssetSelection.all() - AssetSelection.groups("insights")


def materialize_all(data_dir: Path, selection=UP_TO_HYDRATE, run_id: str | None = None, run_mode: dict | None = None):
    """A real Dagster run of the asset graph up to hydrate (or `selection`) over `data_dir`,
    ephemeral instance; `run_mode`: the run's `RunMode` config."""
    result = materialize(
        ASSETS,
        resources=build_resources(data_dir, run_id),
        selection=selection,
        run_config={"resources": {"run_mode": {"config": run_mode}}} if run_mode else None,
        instance=DagsterInstance.ephemeral(),
    )
    assert result.success
    return result



@pytest.fixture(scope="session")
def browser():
    """Headless Chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.is_file(), "Chromium is missing: `make test` installs Debian's chromium package"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
