import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mrs_dagster.cohorts.fields import FIELDS, NUMBER, entity_scope
from mrs_dagster.cohorts.rules import (
    OPERATORS,
    Operator,
    RuleError,
    compiled_mask,
    compiles,
    evaluate,
    general_mask,
    parse_rule,
    rule_fields,
)


def leaf(fact, operator, value):
    return {"fact": fact, "operator": operator, "value": value}


TABLE = pd.DataFrame({
    "store.region": ["north", "south", None, "north"],
    "store.format": ["express", "superstore", "express", None],
    "sku.unit_price": [1.5, 3.0, np.nan, 0.5],
    "sku.category": ["produce", "dairy", "produce", "bakery"],
})


def members(tree, table=TABLE):
    rule = parse_rule(tree)
    compiled, general = compiled_mask(rule, table), general_mask(rule, table, batch_size=3)
    assert list(compiled) == list(general)
    return [i for i, m in enumerate(compiled) if m]


def test_every_problem_of_a_rule_is_named_with_its_path():
    with pytest.raises(RuleError) as error:
        parse_rule({"all": [
            leaf("store.postcode", "equal", "N1"),
            leaf("store.region", "greaterThan", 3),
            leaf("sku.unit_price", "between", [5, 1]),
            leaf("sku.category", "regex", "(unclosed"),
            {"any": []},
            {"all": [], "any": []},
            leaf("store.region", "equal", "north\x00"),
        ]})
    problems = error.value.problems
    assert problems[0].startswith("rule.all[0]: unknown field 'store.postcode'")
    assert problems[1] == "rule.all[1]: operator greaterThan does not apply to store.region, a string field"
    assert problems[2] == "rule.all[2]: value for between on sku.unit_price low must not exceed high"
    assert problems[3].startswith("rule.all[3]: value for regex on sku.category is not a valid RE2")
    assert problems[4] == "rule.all[4].any: must be a non-empty list"
    assert problems[5].startswith("rule.all[5]: a condition has exactly one of all, any, not")
    assert problems[6] == "rule.all[6]: value for equal on store.region holds a control character"


@pytest.mark.parametrize("tree, message", [
    (leaf("__import__('os').system('rm -rf /')", "equal", 1), "unknown field"),
    (leaf("store.region", "equal; DROP TABLE stores", "north"), "unknown operator"),
    (leaf("sku.unit_price", "equal", True), "must be a finite number"),
    (leaf("sku.unit_price", "lessThan", float("inf")), "must be a finite number"),
    (leaf("store.region", "in", "north"), "must be a list"),
    ({"fact": "store.region", "operator": "equal", "value": "north", "path": "../../etc/passwd"}, "exactly the keys"),
    ({"not": {"not": {"not": {}}}}, "a leaf has exactly the keys"),
    ("store.region == 'north'", "must be an object"),
])
def test_injection_attempts_and_malformed_rules_are_refused(tree, message):
    with pytest.raises(RuleError, match=message):
        parse_rule(tree)


def test_a_value_that_looks_like_code_is_only_a_value():
    assert members(leaf("store.region", "equal", "north' or '1'=='1")) == []
    assert members(leaf("store.region", "in", ["x') | (True", "north"])) == [0, 3]


def test_the_entity_scope_follows_the_fields_used():
    assert entity_scope({"store.region"}) == "store"
    assert entity_scope({"sku.category", "sku.brand"}) == "sku"
    assert entity_scope({"store.region", "sku.category"}) == "combo"
    assert entity_scope({"combo.avg_daily_units"}) == "combo"
    assert rule_fields(parse_rule({"any": [leaf("store.region", "equal", "north"),
                                           {"not": leaf("sku.category", "equal", "dairy")}]})) == {"store.region", "sku.category"}


def test_a_rule_on_a_null_field_is_false_never_an_error_and_so_is_its_negation():
    assert members(leaf("store.region", "notEqual", "north")) == [1]  # row 2's region is NULL
    assert members({"not": leaf("store.region", "equal", "north")}) == [1]
    assert members(leaf("sku.unit_price", "lessThan", 2)) == [0, 3]
    assert members({"any": [leaf("store.region", "equal", "north"), leaf("sku.unit_price", "greaterThan", 2)]}) == [0, 1, 3]
    assert members(leaf("store.region", "exists", False)) == [2]
    assert members(leaf("store.format", "exists", True)) == [0, 1, 2]
    assert members({"all": [leaf("store.region", "equal", "north"), leaf("store.format", "doesNotContain", "super")]}) == [0]


def test_every_operator_on_both_paths():
    assert members(leaf("sku.category", "in", ["produce", "bakery"])) == [0, 2, 3]
    assert members(leaf("sku.category", "notIn", ["produce", "bakery"])) == [1]
    assert members(leaf("sku.unit_price", "between", [1, 3])) == [0, 1]
    assert members(leaf("sku.unit_price", "greaterThanInclusive", 1.5)) == [0, 1]
    assert members(leaf("sku.unit_price", "lessThanInclusive", 1.5)) == [0, 3]
    assert members(leaf("store.format", "contains", "press")) == [0, 2]
    assert members(leaf("sku.category", "regex", "^(produce|bak)")) == [0, 2, 3]


def test_a_hostile_regex_runs_in_linear_time_on_both_paths():
    table = pd.DataFrame({"sku.brand": ["a" * 5000 + "!", "aaa"]})
    # Backtracking engines take exponential time on (a+)+$ against a long run of a's and a '!'.
    assert members(leaf("sku.brand", "regex", "^(a+)+$"), table) == [1]


def test_an_operator_registered_without_a_vectorized_form_takes_the_general_path():
    operators = {**OPERATORS, "startsWith": Operator(frozenset({"string"}), OPERATORS["contains"].check,
                                                     lambda x, v: x.startswith(v))}
    rule = parse_rule({"all": [leaf("sku.category", "startsWith", "pro"), leaf("store.region", "equal", "north")]},
                      operators)
    assert not compiles(rule, operators) and compiles(parse_rule(leaf("sku.category", "equal", "x")))
    assert list(evaluate(rule, TABLE, operators)) == [True, False, False, False]


# Property: the compiled path and the general evaluator agree on random rules and data.
STRINGS = ["north", "south", "east", "Produce", "produce", "dairy-x", ""]
FACTS = {"store.region": "string", "sku.category": "string", "sku.unit_price": NUMBER, "combo.events_last_7d": NUMBER}


def _column(kind):
    values = st.sampled_from([0.0, 1.0, 2.5, -1.0, 10.0, np.nan]) if kind == NUMBER else st.sampled_from([*STRINGS, None])
    return st.lists(values, min_size=12, max_size=12)


def _leaves():
    def for_fact(fact):
        kind = FACTS[fact]
        scalar = st.sampled_from([0, 1, 2.5, 10]) if kind == NUMBER else st.sampled_from(STRINGS)
        ops = [st.tuples(st.sampled_from(["equal", "notEqual"]), scalar),
               st.tuples(st.sampled_from(["in", "notIn"]), st.lists(scalar, min_size=1, max_size=3)),
               st.tuples(st.just("exists"), st.booleans())]
        if kind == NUMBER:
            ops += [st.tuples(st.sampled_from(["lessThan", "lessThanInclusive", "greaterThan", "greaterThanInclusive"]),
                              scalar),
                    st.tuples(st.just("between"), st.lists(scalar, min_size=2, max_size=2).map(sorted))]
        else:
            ops += [st.tuples(st.sampled_from(["contains", "doesNotContain"]), st.sampled_from(["o", "uth", "-", "x"])),
                    st.tuples(st.just("regex"), st.sampled_from(["^p", "(?i)produce", "th$", "[aeiou]{2}", ""]))]
        return st.one_of(ops).map(lambda pair: leaf(fact, pair[0], pair[1]))
    return st.sampled_from(list(FACTS)).flatmap(for_fact)


RULES = st.recursive(_leaves(), lambda children: st.one_of(
    st.lists(children, min_size=1, max_size=3).map(lambda c: {"all": c}),
    st.lists(children, min_size=1, max_size=3).map(lambda c: {"any": c}),
    children.map(lambda c: {"not": c}),
), max_leaves=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule=RULES, data=st.fixed_dictionaries({fact: _column(kind) for fact, kind in FACTS.items()}))
def test_the_compiled_path_and_the_general_evaluator_agree(rule, data):
    table = pd.DataFrame(data).astype({f: float for f, k in FACTS.items() if k == NUMBER})
    table = table.astype({f: object for f, k in FACTS.items() if k != NUMBER})
    parsed = parse_rule(rule)
    assert list(compiled_mask(parsed, table)) == list(general_mask(parsed, table, batch_size=5))


def test_every_registered_field_has_a_type_the_operators_know():
    assert {f.type for f in FIELDS.values()} <= set().union(*(op.types for op in OPERATORS.values()))
