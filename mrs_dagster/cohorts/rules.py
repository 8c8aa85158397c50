"""Cohort rules (seed 004): JSON trees in the json-rules-engine shape, validated against the field
registry, evaluated on two paths that must agree.

A rule is `{"all": [...]}`, `{"any": [...]}`, `{"not": rule}` or a leaf
`{"fact": "<entity.field>", "operator": "<op>", "value": ...}`. `parse_rule` checks everything
before anything is evaluated: facts are whitelisted against `fields.FIELDS`, operators against
`OPERATORS` and the field's type, values against the operator. Nothing is ever turned into code or
a query string: values stay Python values handed to pandas and Arrow functions.

Evaluation:
- the compiled path turns the whole tree into one vectorized mask over the entity table;
- the general evaluator walks the tree entity by entity (in batches of 500, as seed 004's
  json-rules-engine path), for operators registered without a vectorized form.
Both use SQL's three-valued logic: a leaf on a NULL field is unknown (only `exists` looks at
NULLs), `all`/`any`/`not` combine unknowns as Kleene logic does, and an entity is a member only
when its rule is true. So a rule on a NULL field is false, never an error, and `not` of it too.
Regexes run on RE2 (Arrow's `match_substring_regex`, a search like JavaScript's `test`), which is
linear in the input: a hostile pattern cannot hang either path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mrs_dagster.cohorts.fields import FIELDS, NUMBER, STRING

MAX_DEPTH = 16
MAX_NODES = 500
MAX_LIST = 1000
MAX_TEXT = 500
BATCH_SIZE = 500


class Refused(ValueError):
    """Input that cannot be used; the message lists every problem, `problems` holds them."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


class RuleError(Refused):
    """A rule that cannot be used; each problem names its path in the tree."""


@dataclass(frozen=True)
class Leaf:
    fact: str
    operator: str
    value: object


@dataclass(frozen=True)
class Node:
    kind: str  # all | any | not
    children: tuple


Rule = Leaf | Node


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _text_problem(v) -> str | None:
    if not isinstance(v, str):
        return "must be a string"
    if len(v) > MAX_TEXT:
        return f"is longer than {MAX_TEXT} characters"
    if any(ord(c) < 32 for c in v):
        return "holds a control character"
    return None


def _scalar_problem(v, field_type: str) -> str | None:
    if field_type == NUMBER:
        return None if _is_number(v) else "must be a finite number"
    return _text_problem(v)


def _check_list(v, t):
    if not isinstance(v, list) or not v or len(v) > MAX_LIST:
        return f"must be a list of 1 to {MAX_LIST} values"
    return next((f"item {i} {p}" for i, item in enumerate(v) if (p := _scalar_problem(item, t))), None)


def _check_between(v, t):
    if not (isinstance(v, list) and len(v) == 2 and all(_is_number(x) for x in v)):
        return "must be [low, high], two finite numbers"
    return "low must not exceed high" if v[0] > v[1] else None


def _check_regex(v, t):
    if problem := _text_problem(v):
        return problem
    try:
        pc.match_substring_regex(pa.array([""]), v)
    except pa.ArrowInvalid as error:
        return f"is not a valid RE2 regular expression ({error})"
    return None


def _check_bool(v, t):
    return None if isinstance(v, bool) else "must be true or false"


def _regex_vector(values: pd.Series, pattern: str) -> np.ndarray:
    matched = pc.match_substring_regex(pa.array(values.to_numpy(dtype=object), type=pa.string()), pattern)
    return matched.fill_null(False).to_numpy(zero_copy_only=False)


@dataclass(frozen=True)
class Operator:
    """An operator: the field types it applies to, how its value is checked, and its scalar form
    (one entity's non-NULL field value, the rule's value -> bool). `vector` is the same over a
    column (NULLs are masked afterwards); an operator without one cannot compile."""

    types: frozenset[str]
    check: Callable[[object, str], str | None]
    scalar: Callable[[object, object], bool]
    vector: Callable[[pd.Series, object], np.ndarray] | None = None


_ANY, _NUM, _STR = frozenset({STRING, NUMBER}), frozenset({NUMBER}), frozenset({STRING})

OPERATORS: dict[str, Operator] = {
    "equal": Operator(_ANY, _scalar_problem, lambda x, v: x == v, lambda s, v: (s == v).to_numpy()),
    "notEqual": Operator(_ANY, _scalar_problem, lambda x, v: x != v, lambda s, v: (s != v).to_numpy()),
    "in": Operator(_ANY, _check_list, lambda x, v: x in v, lambda s, v: s.isin(v).to_numpy()),
    "notIn": Operator(_ANY, _check_list, lambda x, v: x not in v, lambda s, v: (~s.isin(v)).to_numpy()),
    "lessThan": Operator(_NUM, _scalar_problem, lambda x, v: x < v, lambda s, v: (s < v).to_numpy()),
    "lessThanInclusive": Operator(_NUM, _scalar_problem, lambda x, v: x <= v, lambda s, v: (s <= v).to_numpy()),
    "greaterThan": Operator(_NUM, _scalar_problem, lambda x, v: x > v, lambda s, v: (s > v).to_numpy()),
    "greaterThanInclusive": Operator(_NUM, _scalar_problem, lambda x, v: x >= v, lambda s, v: (s >= v).to_numpy()),
    "between": Operator(_NUM, _check_between, lambda x, v: v[0] <= x <= v[1],
                        lambda s, v: ((s >= v[0]) & (s <= v[1])).to_numpy()),
    "contains": Operator(_STR, _scalar_problem, lambda x, v: v in x,
                         lambda s, v: s.str.contains(v, regex=False, na=False).to_numpy(dtype=bool)),
    "doesNotContain": Operator(_STR, _scalar_problem, lambda x, v: v not in x,
                               lambda s, v: ~s.str.contains(v, regex=False, na=True).to_numpy(dtype=bool)),
    "regex": Operator(_STR, _check_regex, lambda x, v: bool(pc.match_substring_regex(pa.array([x]), v)[0].as_py()),
                      _regex_vector),
    # `exists` is the one operator about NULL itself: both paths give it NULLs as they are.
    "exists": Operator(_ANY, _check_bool, lambda x, v: (x is not None) == v, lambda s, v: s.notna().to_numpy() == v),
}


def parse_rule(tree, operators: Mapping[str, Operator] = OPERATORS) -> Rule:
    """The rule `tree` (parsed JSON/YAML), checked against the field registry and `operators`.
    Raises RuleError listing every problem."""
    problems: list[str] = []
    count = [0]

    def walk(node, path: str, depth: int):
        count[0] += 1
        if depth > MAX_DEPTH or count[0] > MAX_NODES:
            problems.append(f"{path}: the rule is too large (at most {MAX_DEPTH} levels, {MAX_NODES} nodes)")
            return None
        if not isinstance(node, dict):
            problems.append(f"{path}: must be an object")
            return None
        groups = [k for k in ("all", "any", "not") if k in node]
        if groups:
            if len(node) != 1:
                problems.append(f"{path}: a condition has exactly one of all, any, not and nothing else")
                return None
            kind = groups[0]
            if kind == "not":
                child = walk(node["not"], f"{path}.not", depth + 1)
                return Node("not", (child,))
            items = node[kind]
            if not isinstance(items, list) or not items:
                problems.append(f"{path}.{kind}: must be a non-empty list")
                return None
            return Node(kind, tuple(walk(c, f"{path}.{kind}[{i}]", depth + 1) for i, c in enumerate(items)))
        return leaf(node, path)

    def leaf(node: dict, path: str):
        if set(node) != {"fact", "operator", "value"}:
            problems.append(f"{path}: a leaf has exactly the keys fact, operator, value")
            return None
        fact, op, value = node["fact"], node["operator"], node["value"]
        field = FIELDS.get(fact) if isinstance(fact, str) else None
        if field is None:
            problems.append(f"{path}: unknown field {str(fact)[:80]!r} (known: {', '.join(FIELDS)})")
        operator = operators.get(op) if isinstance(op, str) else None
        if operator is None:
            problems.append(f"{path}: unknown operator {str(op)[:80]!r} (known: {', '.join(operators)})")
        if field is None or operator is None:
            return None
        if field.type not in operator.types:
            problems.append(f"{path}: operator {op} does not apply to {fact}, a {field.type} field")
        elif problem := operator.check(value, field.type):
            problems.append(f"{path}: value for {op} on {fact} {problem}")
        else:
            return Leaf(fact, op, tuple(value) if isinstance(value, list) else value)
        return None

    rule = walk(tree, "rule", 1)
    if problems:
        raise RuleError(problems)
    return rule


def rule_fields(rule: Rule) -> set[str]:
    """The fields a rule uses."""
    if isinstance(rule, Leaf):
        return {rule.fact}
    return set().union(*(rule_fields(c) for c in rule.children))


def compiles(rule: Rule, operators: Mapping[str, Operator] = OPERATORS) -> bool:
    """Whether every operator of the rule has a vectorized form (the fast path)."""
    if isinstance(rule, Leaf):
        return operators[rule.operator].vector is not None
    return all(compiles(c, operators) for c in rule.children)


def compiled_mask(rule: Rule, table: pd.DataFrame, operators: Mapping[str, Operator] = OPERATORS) -> np.ndarray:
    """The fast path: the rule as one vectorized filter over `table`; True where it holds."""
    return _vector(rule, table, operators).fillna(False).to_numpy(dtype=bool)


def _vector(rule: Rule, table: pd.DataFrame, operators) -> pd.arrays.BooleanArray:
    if isinstance(rule, Leaf):
        column = table[rule.fact]
        values = pd.array(operators[rule.operator].vector(column, rule.value), dtype="boolean")
        if rule.operator != "exists":
            values[column.isna().to_numpy()] = pd.NA
        return values
    parts = [_vector(c, table, operators) for c in rule.children]
    if rule.kind == "not":
        return ~parts[0]
    combined = parts[0]
    for part in parts[1:]:
        combined = combined & part if rule.kind == "all" else combined | part
    return combined


def general_mask(rule: Rule, table: pd.DataFrame, operators: Mapping[str, Operator] = OPERATORS,
                 batch_size: int = BATCH_SIZE) -> np.ndarray:
    """The general evaluator: the rule walked entity by entity, in batches; True where it holds."""
    fields = sorted(rule_fields(rule))
    out = np.zeros(len(table), dtype=bool)
    for start in range(0, len(table), batch_size):
        batch = table[fields].iloc[start:start + batch_size].to_dict("records")
        out[start:start + len(batch)] = [_scalar(rule, row, operators) is True for row in batch]
    return out


def _scalar(rule: Rule, row: dict, operators) -> bool | None:
    if isinstance(rule, Leaf):
        value = row[rule.fact]
        if isinstance(value, float) and math.isnan(value):
            value = None
        if value is None and rule.operator != "exists":
            return None
        return bool(operators[rule.operator].scalar(value, rule.value))
    results = [_scalar(c, row, operators) for c in rule.children]
    if rule.kind == "not":
        return None if results[0] is None else not results[0]
    decisive = rule.kind == "any"  # True decides `any`, False decides `all`
    if decisive in results:
        return decisive
    return None if None in results else not decisive


def evaluate(rule: Rule, table: pd.DataFrame, operators: Mapping[str, Operator] = OPERATORS) -> np.ndarray:
    """Where the rule holds: compiled when it can be, else the general evaluator."""
    if compiles(rule, operators):
        return compiled_mask(rule, table, operators)
    return general_mask(rule, table, operators)
