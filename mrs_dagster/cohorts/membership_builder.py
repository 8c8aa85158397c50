"""The cohort membership builder (seed 002): one stateless orchestration of four injected
collaborators, with one error surface (`DDError`) and no Dagster dependency.

    CohortSpecRepository.get(cohort_id) -> CohortSpec
    CatalogBundleLoader.load_for_spec(spec) -> (frames, metadata)
        frames: combo_catalog always; stores, skus and metrics as the spec's scope needs
    MembershipArtifactStore.persist_membership(cohort_id, df, metadata) -> handles
        df: the new generation's cohort_membership_log rows (members added and removed)
    RegistryFactory.create_registry(spec, frames) -> GenerationRegistry (numbers generations)

`build` resolves the spec, checks the frames, validates the rules (`invalid_constraint`),
evaluates them over the entity table, checks every member against the catalogs
(`coverage_gap`), and compares with the registry's newest generation: a changed membership is a
new generation, an unchanged one is not, and a static cohort keeps its first generation's
members. It persists only when not `dry_run` and something changed. In MRS the seed's membership
key `(stage, gen_id)` is `(entity_type, member_id)`; members are deduplicated on it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import pandas as pd

from mrs_dagster.cohorts.fields import entity_table
from mrs_dagster.cohorts.membership import MEMBER_COLUMNS, MEMBER_KEY, current_members, generation_rows, membership_changes
from mrs_dagster.cohorts.rules import RuleError, evaluate
from mrs_dagster.cohorts.specs import CohortSpec
from mrs_dagster.contracts import COHORT_MEMBERSHIP_LOG

CATALOG = "combo_catalog"
CATALOG_COLUMNS = ("combo_id", "version", "store_id", "sku")
FRAMES_BY_SCOPE = {"store": ("stores", "metrics"), "sku": ("skus", "metrics"), "combo": ("stores", "skus", "metrics")}


class Err(StrEnum):
    SPEC_NOT_FOUND = "spec_not_found"
    CATALOG_MISSING = "catalog_missing"
    CATALOG_INCOMPLETE = "catalog_incomplete"
    INVALID_CONSTRAINT = "invalid_constraint"
    COVERAGE_GAP = "coverage_gap"
    INVALID_CONFIG = "invalid_config"
    DATA_MISSING = "data_missing"


class DDError(Exception):
    """A builder or collaborator failure: a narrow `code` and the `context` to act on."""

    def __init__(self, code: Err, message: str, **context):
        super().__init__(f"{code}: {message}")
        self.code, self.context = code, context


class CohortSpecRepository(ABC):
    @abstractmethod
    def get(self, cohort_id: str) -> CohortSpec:
        """The parsed spec; DDError(spec_not_found) when there is none."""


class CatalogBundleLoader(ABC):
    @abstractmethod
    def load_for_spec(self, spec: CohortSpec) -> tuple[dict[str, pd.DataFrame], dict]:
        """The frames the spec needs, by name, and metadata about them; DDError(catalog_missing)
        when the combo catalog has never been written."""


class MembershipArtifactStore(ABC):
    @abstractmethod
    def persist_membership(self, cohort_id: str, df: pd.DataFrame, metadata: dict) -> Mapping:
        """Persist a generation's membership log rows; returns handles (paths, table names)."""


class GenerationRegistry(ABC):
    @abstractmethod
    def current(self, cohort_id: str) -> tuple[int, pd.DataFrame]:
        """The cohort's newest membership generation (0: none yet) and its members."""


class InMemoryGenerationRegistry(GenerationRegistry):
    """Generations replayed from `cohort_membership_log` rows held in memory (the lake-backed
    factory hands it the log as read from the lake)."""

    def __init__(self, log: pd.DataFrame | None = None):
        self.log = COHORT_MEMBERSHIP_LOG.empty() if log is None else log

    def current(self, cohort_id: str) -> tuple[int, pd.DataFrame]:
        return current_members(self.log, cohort_id)


class RegistryFactory(ABC):
    @abstractmethod
    def create_registry(self, spec: CohortSpec, frames: Mapping[str, pd.DataFrame]) -> GenerationRegistry: ...


class InMemoryRegistryFactory(RegistryFactory):
    def __init__(self, log: pd.DataFrame | None = None):
        self.log = log

    def create_registry(self, spec: CohortSpec, frames: Mapping[str, pd.DataFrame]) -> GenerationRegistry:
        return InMemoryGenerationRegistry(self.log)


class InMemorySpecRepository(CohortSpecRepository):
    def __init__(self, specs: Mapping[str, CohortSpec]):
        self.specs = dict(specs)

    def get(self, cohort_id: str) -> CohortSpec:
        if cohort_id not in self.specs:
            raise DDError(Err.SPEC_NOT_FOUND, f"no cohort {cohort_id}", cohort_id=cohort_id)
        return self.specs[cohort_id]


class InMemoryCatalogBundleLoader(CatalogBundleLoader):
    def __init__(self, frames: Mapping[str, pd.DataFrame], metadata: dict | None = None):
        self.frames, self.metadata = dict(frames), dict(metadata or {})

    def load_for_spec(self, spec: CohortSpec) -> tuple[dict[str, pd.DataFrame], dict]:
        return dict(self.frames), dict(self.metadata)


class InMemoryArtifactStore(MembershipArtifactStore):
    def __init__(self):
        self.persisted: list[tuple[str, pd.DataFrame, dict]] = []

    def persist_membership(self, cohort_id: str, df: pd.DataFrame, metadata: dict) -> Mapping:
        self.persisted.append((cohort_id, df, metadata))
        return {"memory": f"{cohort_id}/generation-{metadata['generation']}", "rows": len(df)}


@dataclass(frozen=True)
class CohortMembershipResult:
    cohort_id: str
    row_count: int
    membership_preview: pd.DataFrame
    artifacts: Mapping = field(default_factory=dict)
    metadata: Mapping = field(default_factory=dict)


class CohortMembershipBuilder:
    def __init__(self, spec_repository: CohortSpecRepository, catalog_loader: CatalogBundleLoader,
                 artifact_store: MembershipArtifactStore | None = None,
                 registry_factory: RegistryFactory | None = None, preview_rows: int = 20):
        self.spec_repository = spec_repository
        self.catalog_loader = catalog_loader
        self.artifact_store = artifact_store
        self.registry_factory = registry_factory or InMemoryRegistryFactory()
        self.preview_rows = preview_rows

    def build(self, cohort_id: str, *, now: pd.Timestamp, run_id: str, dry_run: bool = False) -> CohortMembershipResult:
        """The cohort's membership now (`now`: the data's newest tick, stamped as written_at)."""
        spec = self.spec_repository.get(cohort_id)
        frames, catalog_metadata = self.catalog_loader.load_for_spec(spec)
        catalog = _checked_catalog(frames)
        if not spec.rules:
            raise DDError(Err.INVALID_CONFIG, "the spec has no rules", cohort_id=cohort_id)
        try:
            rule, scope = spec.rule, spec.entity_scope
        except RuleError as error:
            raise DDError(Err.INVALID_CONSTRAINT, str(error), cohort_id=cohort_id, problems=error.problems) from None
        missing = [name for name in FRAMES_BY_SCOPE[scope] if name not in frames]
        if missing:
            raise DDError(Err.CATALOG_INCOMPLETE, f"missing frame(s) {', '.join(missing)}", cohort_id=cohort_id,
                          missing=missing, entity_scope=scope)
        table = entity_table(scope, frames)
        matched = table[evaluate(rule, table)].assign(entity_type=scope)[MEMBER_COLUMNS]
        matched = matched.drop_duplicates(MEMBER_KEY).sort_values(MEMBER_KEY, ignore_index=True)

        generation, current = self.registry_factory.create_registry(spec, frames).current(cohort_id)
        frozen = spec.kind == "static" and generation > 0
        members = current if frozen else matched
        unknown = sorted(set(members["member_id"]) - set(table["member_id"]))
        if unknown:
            raise DDError(Err.COVERAGE_GAP, f"{len(unknown)} member(s) not in the catalogs", cohort_id=cohort_id,
                          missing=unknown[:10], entity_scope=scope)
        added, removed = membership_changes(current, members)
        changed = not (added.empty and removed.empty)
        if changed:
            generation += 1
        rows = generation_rows(cohort_id, generation, added, removed, now, run_id)

        warnings = []
        if members.empty:
            warnings.append("no entity matches the rules")
        if frozen:
            warnings.append(f"static cohort: members frozen at generation {generation}")
        metadata = {
            **spec.metadata(), **catalog_metadata,
            "combo_count": int(catalog["combo_id"].nunique()), "max_version": int(catalog["version"].max()),
            "rows": len(members), "generation": generation, "added": len(added), "removed": len(removed),
            "changed": changed, "dry_run": dry_run, "run_timestamp": now.isoformat(), "warnings": warnings,
        }
        persist = self.artifact_store is not None and not dry_run and changed
        artifacts = self.artifact_store.persist_membership(cohort_id, rows, metadata) if persist else {}
        return CohortMembershipResult(cohort_id, len(members), members.head(self.preview_rows).copy(), artifacts, metadata)


def _checked_catalog(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    catalog = frames.get(CATALOG)
    if catalog is None or catalog.empty:
        raise DDError(Err.DATA_MISSING, "the combo catalog is missing or empty", frames=sorted(frames))
    absent = [c for c in CATALOG_COLUMNS if c not in catalog.columns]
    if absent:
        raise DDError(Err.INVALID_CONFIG, f"the combo catalog lacks column(s) {', '.join(absent)}", missing=absent,
                      columns=list(catalog.columns))
    return catalog


def create_cohort_membership_builder(**kwargs) -> CohortMembershipBuilder:
    """A builder wired from keyword collaborators (the Dagster asset passes its resources):
    `spec_repository` and `catalog_loader` are required; `artifact_store`, `registry_factory`
    (default in memory) and `preview_rows` optional. A missing or unknown keyword is invalid config."""
    required, optional = {"spec_repository", "catalog_loader"}, {"artifact_store", "registry_factory", "preview_rows"}
    missing, unknown = required - set(kwargs), set(kwargs) - required - optional
    if missing or unknown:
        raise DDError(Err.INVALID_CONFIG, "cannot wire the builder", missing=sorted(missing), unknown=sorted(unknown))
    return CohortMembershipBuilder(**kwargs)
