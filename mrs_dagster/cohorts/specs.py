"""Cohort specs: what a YAML file under `data/cohorts/` says, validated.

    cohort_id: COH-3            # assigned by `mrs cohort create`, the file is COH-3.yaml
    name: North produce
    kind: dynamic               # dynamic: re-evaluated when its fields change; static: frozen at creation
    description: optional text
    rules: {all: [{fact: store.region, operator: equal, value: north}, ...]}   # cohorts.rules

Ids are `COH-<n>` and nothing else, so an id can never name a path outside the cohorts folder;
names are one line of at most 100 printable characters without path separators.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mrs_dagster.cohorts.fields import entity_scope
from mrs_dagster.cohorts.rules import Refused, Rule, RuleError, parse_rule, rule_fields
from mrs_dagster.contracts import COHORT_KINDS

COHORT_ID = re.compile(r"COH-[1-9][0-9]{0,8}")
_KEYS = {"cohort_id", "name", "kind", "description", "rules"}
MAX_NAME = 100


class SpecError(Refused):
    """A cohort spec that cannot be used."""


@dataclass(frozen=True)
class CohortSpec:
    cohort_id: str
    name: str
    kind: str
    description: str
    rules: Mapping  # the rule tree as written

    @property
    def rule(self) -> Rule:
        return parse_rule(self.rules)

    @property
    def fields(self) -> set[str]:
        return rule_fields(self.rule)

    @property
    def entity_scope(self) -> str:
        return entity_scope(self.fields)

    def document(self) -> dict:
        """The spec as its YAML file holds it."""
        return {"cohort_id": self.cohort_id, "name": self.name, "kind": self.kind,
                "description": self.description, "rules": self.rules}

    def metadata(self) -> dict:
        return {"cohort_id": self.cohort_id, "name": self.name, "kind": self.kind,
                "entity_scope": self.entity_scope, "rule_fields": sorted(self.fields)}


def check_cohort_id(cohort_id) -> str:
    """`cohort_id` if it is a COH-N id; raises SpecError otherwise."""
    if not isinstance(cohort_id, str) or not COHORT_ID.fullmatch(cohort_id):
        raise SpecError([f"cohort id {str(cohort_id)[:40]!r} is not of the form COH-<number>"])
    return cohort_id


def _name_problem(name) -> str | None:
    if not isinstance(name, str) or not name.strip():
        return "name must be a non-empty string"
    if len(name) > MAX_NAME:
        return f"name is longer than {MAX_NAME} characters"
    if any(not c.isprintable() for c in name) or "/" in name or "\\" in name or ".." in name:
        return "name must be one line of printable characters without '/', '\\' or '..'"
    return None


def parse_spec(document, cohort_id: str | None = None) -> CohortSpec:
    """A spec from its YAML document. `cohort_id`: the id to give it (a new spec has none yet);
    else the document's own. Raises SpecError listing every problem, rule problems included."""
    if not isinstance(document, Mapping):
        raise SpecError(["a cohort spec must be a mapping"])
    problems = [f"unknown key {str(k)[:40]!r}" for k in document if k not in _KEYS]
    cohort_id = cohort_id or document.get("cohort_id")
    try:
        check_cohort_id(cohort_id)
    except SpecError as error:
        problems += error.problems
    if problem := _name_problem(document.get("name")):
        problems.append(problem)
    kind = document.get("kind", "dynamic")
    if kind not in COHORT_KINDS:
        problems.append(f"kind must be one of {', '.join(COHORT_KINDS)}")
    description = document.get("description") or ""
    if not isinstance(description, str) or len(description) > 2000:
        problems.append("description must be a string of at most 2000 characters")
    if "rules" not in document:
        problems.append("rules are missing")
    else:
        try:
            parse_rule(document["rules"])
        except RuleError as error:
            problems += error.problems
    if problems:
        raise SpecError(problems)
    return CohortSpec(cohort_id, document["name"].strip(), kind, description, document["rules"])


def next_cohort_id(existing: Iterable[str]) -> str:
    """The next COH-N after the highest existing one."""
    numbers = [int(i.split("-")[1]) for i in existing if COHORT_ID.fullmatch(i)]
    return f"COH-{max(numbers, default=0) + 1}"
