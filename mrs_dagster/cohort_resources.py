"""The cohort membership builder's collaborators as Dagster resources: cohort specs as YAML files,
the catalogs from the lake and the reference files, membership generations in the lake."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import yaml
from dagster import ConfigurableResource

from mrs_dagster.cohorts.membership_builder import (
    CatalogBundleLoader,
    CohortSpecRepository,
    DDError,
    Err,
    GenerationRegistry,
    InMemoryGenerationRegistry,
    MembershipArtifactStore,
    RegistryFactory,
)
from mrs_dagster.cohorts.specs import COHORT_ID, CohortSpec, SpecError, check_cohort_id, next_cohort_id, parse_spec
from mrs_dagster.landing import read_reference
from mrs_dagster.resources import PROJECT_ROOT, MRSConfig
from mrs_dagster.stages.reference import usable_reference

DEFAULT_COHORTS_DIR = PROJECT_ROOT / "data" / "cohorts"


def default_cohorts_dir() -> Path:
    return Path(os.environ.get("MRS_COHORTS_DIR") or DEFAULT_COHORTS_DIR).resolve()


class CohortSpecs(ConfigurableResource, CohortSpecRepository):
    """Cohort specs as `<cohorts_dir>/COH-N.yaml` (default `data/cohorts/`, env MRS_COHORTS_DIR)."""

    cohorts_dir: str

    def _path(self, cohort_id: str) -> Path:
        return Path(self.cohorts_dir) / f"{check_cohort_id(cohort_id)}.yaml"

    def ids(self) -> list[str]:
        folder = Path(self.cohorts_dir)
        ids = [p.stem for p in folder.glob("COH-*.yaml") if COHORT_ID.fullmatch(p.stem)] if folder.is_dir() else []
        return sorted(ids, key=lambda i: int(i.split("-")[1]))

    def get(self, cohort_id: str) -> CohortSpec:
        try:
            path = self._path(cohort_id)
        except SpecError as error:
            raise DDError(Err.SPEC_NOT_FOUND, str(error), cohort_id=str(cohort_id)[:40]) from None
        if not path.is_file():
            raise DDError(Err.SPEC_NOT_FOUND, f"no spec {path}", cohort_id=cohort_id)
        try:
            return parse_spec(yaml.safe_load(path.read_text(encoding="utf-8")), cohort_id)
        except (yaml.YAMLError, SpecError) as error:
            raise DDError(Err.INVALID_CONFIG, f"{path}: {error}", cohort_id=cohort_id) from None

    def specs(self) -> list[CohortSpec]:
        """Every readable spec (an unreadable one is left for its own materialization to report)."""
        out = []
        for cohort_id in self.ids():
            try:
                out.append(self.get(cohort_id))
            except DDError:
                continue
        return out

    def create(self, document: Mapping) -> CohortSpec:
        """Validate a new spec, give it the next COH-N id and store it. A taken id (a concurrent
        create) moves on to the next one: a spec file is never overwritten."""
        if not isinstance(document, Mapping):
            raise SpecError(["a cohort spec must be a mapping"])
        if "cohort_id" in document:
            raise SpecError(["a new spec has no cohort_id: `mrs cohort create` assigns the next COH-N"])
        Path(self.cohorts_dir).mkdir(parents=True, exist_ok=True)
        while True:
            spec = parse_spec(document, next_cohort_id(self.ids()))
            try:
                with self._path(spec.cohort_id).open("x", encoding="utf-8") as out:
                    yaml.safe_dump(spec.document(), out, sort_keys=False, allow_unicode=True)
                return spec
            except FileExistsError:
                continue


class LakeCatalogBundleLoader(ConfigurableResource, CatalogBundleLoader):
    """The combo catalog and cohort metrics from the lake, stores and SKUs from the reference files."""

    mrs: MRSConfig

    def frames(self) -> dict[str, pd.DataFrame]:
        lake, run_id = self.mrs.lake(), self.mrs.current_run_id()
        if not lake.exists("combo_catalog"):
            raise DDError(Err.CATALOG_MISSING, "the combo catalog has not been materialized for this lake",
                          lake=str(lake.lake_dir))
        frames = {"combo_catalog": lake.read("combo_catalog", run_id=run_id),
                  "metrics": lake.read("cohort_metrics", run_id=run_id)}
        for name in ("stores", "skus"):
            rows = read_reference(self.mrs.path, name)
            if rows is not None:
                frames[name] = usable_reference(name, rows)[0]
        return frames

    def load_for_spec(self, spec: CohortSpec) -> tuple[dict[str, pd.DataFrame], dict]:
        frames = self.frames()
        as_of = frames["metrics"]["as_of"].max() if len(frames["metrics"]) else None
        return frames, {"run_id": self.mrs.current_run_id(), "metrics_as_of": None if as_of is None else as_of.isoformat()}


class LakeMembershipStore(ConfigurableResource, MembershipArtifactStore):
    """Appends each membership generation to `cohort_membership_log`."""

    mrs: MRSConfig

    def persist_membership(self, cohort_id: str, df: pd.DataFrame, metadata: dict) -> Mapping:
        appended = self.mrs.lake().append("cohort_membership_log", df)
        return {"table": "cohort_membership_log", "generation": metadata["generation"], "rows_appended": appended}


class LakeRegistryFactory(ConfigurableResource, RegistryFactory):
    """Generations numbered from `cohort_membership_log` as stored in the lake."""

    mrs: MRSConfig

    def create_registry(self, spec: CohortSpec, frames: Mapping[str, pd.DataFrame]) -> GenerationRegistry:
        return InMemoryGenerationRegistry(self.mrs.lake().read("cohort_membership_log", run_id=self.mrs.current_run_id()))
