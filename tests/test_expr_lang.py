"""expr-lang v1.17 semantics: values and errors as expr (and therefore Argo) gives them.

Expected values come from expr's language definition (docs/language-definition.md)
and its Go runtime (int/float rules, Equal, Fetch, builtins).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from jupyter_argo.errors import ExpressionError
from jupyter_argo.expr import compile_expression, evaluate, expand_variables

ENV: dict[str, Any] = {
    "xs": [1, 2, 3, 4],
    "users": [
        {"Name": "John", "Age": 30, "Tags": ["a"]},
        {"Name": "Jane", "Age": 17, "Tags": []},
        {"Name": "Bob", "Age": 45, "Tags": ["a", "b"]},
    ],
    "m": {"a": {"b": None}, "n": 1},
    "m2": {"s": "hello"},
    "s": "hello",
    "n": 7,
    "f": 1.5,
    "t": datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc),
}


def ev(source: str, env: dict[str, Any] | None = None) -> Any:
    return evaluate(source, ENV if env is None else env)


# Every one of these is an example from expr's language definition, or a rule of its
# runtime, and must be true.
TRUE_EXPRESSIONS = [
    # literals
    "0x2A == 42",
    "0o52 == 42",
    "0b101010 == 42",
    "1_000_000 == 1000000",
    ".5 == 0.5",
    "1e3 == 1000.0",
    '"a\\tb" == "a\tb"',
    "'\\u00e9' == \"é\"",
    '"\\x41" == "A"',
    "`raw\\n` == 'raw\\\\n'",
    "nil == nil",
    # arithmetic: / is float division, % is the integer remainder (sign of the dividend)
    "7 / 2 == 3.5",
    "type(7 / 7) == 'float'",
    "type(7 * 2) == 'int'",
    "type(7 * 2.0) == 'float'",
    "-7 % 3 == -1",
    "7 % -3 == 1",
    "2 ** 10 == 1024.0",
    "2 ^ 3 == 8.0",
    "1 + 2 * 3 == 7",
    "(1 + 2) * 3 == 9",
    "-2 ** 2 == -4.0",
    "9223372036854775807 + 1 == -9223372036854775807 - 1",
    # comparison and logic
    "1 == 1.0",
    "'a' < 'b'",
    "1 < 2 < 3",
    "not (1 > 2)",
    "!false",
    "true and not false",
    "false or true",
    "true && true || false",
    # membership
    '"John" in ["John", "Jane"]',
    '"name" in {"name": "John", "age": 30}',
    "2 in xs",
    "5 not in xs",
    "'x' not in {'y': 1}",
    "1.0 in [1, 2]",
    # strings
    '"Hello" + " " + "World" == "Hello World"',
    '"foobar" contains "oba"',
    '"foobar" startsWith "foo"',
    '"foobar" endsWith "bar"',
    '"foobar" matches "^fo+"',
    '"foobar" not matches "^bar"',
    '"foo" not contains "x"',
    # ranges, slices, indexes
    "1..3 == [1, 2, 3]",
    "3..1 == []",
    "xs[1:3] == [2, 3]",
    "xs[1:-1] == [2, 3]",
    "xs[:2] == [1, 2]",
    "xs[2:] == [3, 4]",
    "xs[:] == xs",
    "xs[0] == 1",
    "xs[-1] == 4",
    "s[1:3] == 'el'",
    "m2.s[0] == 104",  # a string's bytes, when its type is only known at run time
    # members, optional chaining, nil coalescing
    "users[0].Name == 'John'",
    "users[0]['Name'] == 'John'",
    "m.a.b == nil",
    "m.missing == nil",
    "m?.a?.b?.c == nil",
    "m.nothing?.deeper == nil",
    "(m.a.b ?? 'fallback') == 'fallback'",
    "(m.n ?? 2) == 1",
    "m['n'] == 1",
    # conditionals, let, pipes, sequences
    "(n > 5 ? 'big' : 'small') == 'big'",
    "(if n > 5 { 'big' } else { 'small' }) == 'big'",
    "(let x = 42; x * 2) == 84",
    "(let x = 2; let y = 3; x * y) == 6",
    "(s | upper() | split('L')) == ['HE', '', 'O']",
    "(1; 2; 3) == 3",
    # predicates
    "filter(0..9, {# % 2 == 0}) == [0, 2, 4, 6, 8]",
    "map(xs, # * 10) == [10, 20, 30, 40]",
    "map(xs, #index) == [0, 1, 2, 3]",
    "all(users, .Age > 10)",
    "any(users, .Age > 40)",
    "none(users, .Age > 50)",
    "one(users, .Age > 40)",
    "count(users, .Age > 18) == 2",
    "count([true, false, true]) == 2",
    "sum([1, 2, 3]) == 6",
    "sum(users, .Age) == 92",
    "find([1, 2, 3, 4], # > 2) == 3",
    "findIndex([1, 2, 3, 4], # > 2) == 2",
    "findLast([1, 2, 3, 4], # > 2) == 4",
    "findLastIndex([1, 2, 3, 4], # > 2) == 3",
    "find(xs, # > 9) == nil",
    "reduce(1..9, #acc + #) == 45",
    "reduce(1..9, #acc + #, 10) == 55",
    "groupBy(users, .Age > 18)[true][0].Name == 'John'",
    "map(sortBy(users, .Age), .Name) == ['Jane', 'John', 'Bob']",
    "map(sortBy(users, .Age, 'desc'), .Name) == ['Bob', 'John', 'Jane']",
    "filter(users, {let u = #; any(u.Tags, # == 'b')})[0].Name == 'Bob'",
    "filter(users, len(.Tags) > 0) | map(.Name) | join(',') == 'John,Bob'",
    # string functions
    'trim("  Hello  ") == "Hello"',
    'trim("__Hello__", "_") == "Hello"',
    'trimPrefix("HelloWorld", "Hello") == "World"',
    'trimSuffix("HelloWorld", "World") == "Hello"',
    'upper("hello") == "HELLO"',
    'lower("HELLO") == "hello"',
    'split("apple,orange,grape", ",") == ["apple", "orange", "grape"]',
    'split("apple,orange,grape", ",", 2) == ["apple", "orange,grape"]',
    'splitAfter("apple,orange,grape", ",") == ["apple,", "orange,", "grape"]',
    'replace("Hello World", "World", "Universe") == "Hello Universe"',
    'repeat("Hi", 3) == "HiHiHi"',
    'indexOf("apple pie", "pie") == 6',
    'lastIndexOf("apple pie apple", "apple") == 10',
    'hasPrefix("HelloWorld", "Hello")',
    'hasSuffix("HelloWorld", "World")',
    # numbers
    "max(5, 7) == 7",
    "min(5, 7) == 5",
    "max([1, 9, 3]) == 9",
    "abs(-5) == 5",
    "ceil(1.5) == 2.0",
    "floor(1.5) == 1.0",
    "round(1.5) == 2.0",
    "round(2.5) == 3.0",
    "round(-2.5) == -3.0",
    "mean([1, 2, 3]) == 2.0",
    "median([1, 2, 3]) == 2.0",
    # arrays
    "first([1, 2, 3]) == 1",
    "last([1, 2, 3]) == 3",
    "first([]) == nil",
    "take([1, 2, 3, 4], 2) == [1, 2]",
    "reverse([3, 1, 4]) == [4, 1, 3]",
    "sort([3, 1, 4]) == [1, 3, 4]",
    'sort([3, 1, 4], "desc") == [4, 3, 1]',
    "concat([1, 2], [3, 4]) == [1, 2, 3, 4]",
    "flatten([1, 2, [3, 4]]) == [1, 2, 3, 4]",
    "uniq([1, 2, 3, 2, 1]) == [1, 2, 3]",
    'join(["apple", "orange", "grape"], ",") == "apple,orange,grape"',
    'join(["apple", "orange", "grape"]) == "appleorangegrape"',
    "get([1, 2, 3], 1) == 2",
    'get({"name": "John", "age": 30}, "name") == "John"',
    "get([1, 2, 3], 9) == nil",
    # maps
    'sort(keys({"name": "John", "age": 30})) == ["age", "name"]',
    "len(values({'a': 1, 'b': 2})) == 2",
    "len(toPairs({'a': 1})) == 1",
    "fromPairs([['name', 'John']])['name'] == 'John'",
    # conversions
    'type(42) == "int"',
    'type("hello") == "string"',
    'type(1.5) == "float"',
    "type(nil) == 'nil'",
    "type([]) == 'array'",
    "type({}) == 'map'",
    "type(now()) == 'time.Time'",
    'int("123") == 123',
    "int(3.9) == 3",
    'float("123.45") == 123.45',
    'string(123) == "123"',
    "string(1.5) == '1.5'",
    "string(1000000.0) == '1e+06'",
    "string([1, 'a']) == '[1 a]'",
    "string(nil) == '<nil>'",
    "len('héllo') == 5",
    "len([1, 2, 3]) == 3",
    'len({"name": "John", "age": 30}) == 2',
    'toBase64("Hello World") == "SGVsbG8gV29ybGQ="',
    'fromBase64("SGVsbG8gV29ybGQ=") == "Hello World"',
    "fromJSON('{\"a\": [1, 2]}').a[1] == 2",
    "type(fromJSON('1')) == 'float'",
    "toJSON({'b': 1, 'a': [true, nil]}) == "
    '\'{\\n  "a": [\\n    true,\\n    null\\n  ],\\n  "b": 1\\n}\'',
    # bits
    "bitand(0b1010, 0b1100) == 0b1000",
    "bitor(0b1010, 0b1100) == 0b1110",
    "bitxor(0b1010, 0b1100) == 0b110",
    "bitnand(0b1010, 0b1100) == 0b10",
    "bitnot(0b1010) == -0b1011",
    "bitshl(0b101101, 2) == 0b10110100",
    "bitshr(0b101101, 2) == 0b1011",
    "bitushr(-0b101, 2) == 4611686018427387902",
    # dates and durations
    'duration("1h").Seconds() == 3600.0',
    'duration("1h30m") == duration("90m")',
    "date('2023-08-14').Year() == 2023",
    "date('2023-08-14T10:00:00Z').Hour() == 10",
    "date('14.08.2023', '02.01.2006').Month() == 8",
    "t.Year() == 2024",
    "t.Format('2006-01-02 15:04') == '2024-05-06 07:08'",
    "t + duration('1h') > t",
    "(t - date('2024-05-06')).Hours() > 7",
    "now() - duration('1h') < now()",
    "$env.n == 7",
    "'n' in $env",
    "$env['s'] == 'hello'",
]


@pytest.mark.parametrize("source", TRUE_EXPRESSIONS)
def test_expression_is_true(source: str) -> None:
    assert ev(source) is True


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 + 1", 2),
        ("1 + 1.0", 2.0),
        ("10 / 4", 2.5),
        ("'a' + 'b'", "ab"),
        ("xs | map(# * 2)", [2, 4, 6, 8]),
        ("m.a.b", None),
        ("{a: 1, 'b c': [1]}", {"a": 1, "b c": [1]}),
        ("[1, 'two', nil, true]", [1, "two", None, True]),
        ("users | filter(.Age > 18) | map(.Name)", ["John", "Bob"]),
        ("1 == 1 ? 'yes' : 'no'", "yes"),
        ("f * 2", 3.0),
        ("n ?: 0", None),
    ],
)
def test_values(source: str, expected: Any) -> None:
    if source == "n ?: 0":
        # `a ?: b` needs a bool condition, as in expr.
        with pytest.raises(ExpressionError, match="non-bool expression"):
            ev(source)
        return
    result = ev(source)
    assert result == expected
    assert type(result) is type(expected)


def test_group_by_keys_keep_their_type() -> None:
    groups = ev("groupBy([1, 2, 3], # % 2)")
    assert dict(groups) == {1: [1, 3], 0: [2]}
    # Go cannot JSON-encode a map[interface{}]...: neither can we.
    with pytest.raises(ExpressionError, match="json: unsupported type"):
        ev("toJSON(groupBy([1], #))")


def test_int_overflow_wraps_like_go() -> None:
    assert ev("9223372036854775807 * 2") == -2


def test_float_division_by_zero_is_infinite() -> None:
    assert ev("1 / 0") == math.inf
    assert math.isnan(ev("0 / 0"))


def test_durations_and_times_from_python_values() -> None:
    env = {"d": timedelta(minutes=90), "t": datetime(2020, 1, 1)}
    assert evaluate("d.Minutes()", env) == 90.0
    assert evaluate("string(d)", env) == "1h30m0s"
    assert evaluate("(t + d).Format('15:04')", env) == "01:30"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("(1 + ", "col 5: unexpected token EOF"),
        ("1 +* 2", "col 4: unexpected token '*'"),
        ("foo(", "col 4: unexpected token EOF"),
        ("a ?? b || c", "col 8: Operator (||) and coalesce expressions (??) cannot be mixed"),
        ("'abc", "col 5: literal not terminated"),
        ("1 @ 2", "col 3: unrecognized character: U+0040 '@'"),
        ("1abc", "col 2: bad number syntax"),
        ("'\\q'", "col 3: invalid char escape"),
        ("x.(", "col 3: expected name"),
        ("#", "col 1: unexpected token '#'"),
        ("a\n  + )", "line 2, col 5: unexpected token ')'"),
        ("99999999999999999999", "col 1: invalid integer literal"),
        ("filter(xs, # > 1; # < 3)", "wrap predicate with brackets { and }"),
    ],
)
def test_syntax_errors_name_the_column(source: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(source)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        # compile-time checks against the environment (expr.Env)
        ("foo + 1", "col 1: unknown name foo"),
        ("false && foo", "unknown name foo"),
        ("'a' + 1", "invalid operation: + (mismatched types string and int)"),
        ("'a' == 1", "invalid operation: == (mismatched types string and int)"),
        ("s > n", "invalid operation: > (mismatched types string and int)"),
        ("len(5)", "invalid argument for len (type int)"),
        ("upper(1)", "cannot use int as argument (type string) to call upper"),
        ("filter(xs, 'x')", "predicate should return boolean (got string)"),
        ("filter(s, true)", "builtin filter takes only array (got string)"),
        ("'a' matches '('", "error parsing regexp"),
        ("n ? 1 : 2", "non-bool expression (type int) used as condition"),
        ("let n = 1; n", "cannot redeclare n"),
        ("let len = 1; len", "cannot redeclare builtin len"),
        ("s[0]", "type string[int] is undefined"),
        ("map(xs, #acc)", "unknown pointer #acc"),
        ("1 in {'a': 1}", "cannot use int as type string in map key"),
        ("'a' in [1, 2]", "cannot use string as type int in array"),
        ("s.foo", "type string has no field foo"),
        ("n()", "int is not callable"),
        # run-time errors (the types are only known while running)
        ("m.a + 1", "invalid operation: map[string]interface {} + int"),
        ("m.missing.deeper", "cannot fetch deeper from <nil>"),
        ("xs[9]", "index out of range: 9 (array length is 4)"),
        ("m.n % 0", "integer divide by zero"),
        ("users[0].Name + 1", "invalid operation: string + int"),
        ("int('abc')", "invalid operation: int(abc)"),
        ("reduce([], #acc)", "reduce of empty array with no initial value"),
        ("sortBy(xs, #, 'up')", "unknown order, use asc or desc"),
        ("m.a.b.c", "cannot fetch c from <nil>"),
        ("duration('5 minutes')", 'time: unknown unit " minutes" in duration "5 minutes"'),
        ("toJSON(groupBy(xs, #))", "json: unsupported type"),
    ],
)
def test_errors_are_clear(source: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        ev(source)
    assert message in str(caught.value)


def test_no_python_reaches_user_text() -> None:
    # Dunder names are ordinary (unknown) names, never Python attributes.
    for source in ("__import__('os')", "s.__class__", "xs.__len__()", "().__class__"):
        with pytest.raises(ExpressionError):
            ev(source)
    assert ev("m['__class__']") is None


def test_huge_allocations_are_refused() -> None:
    with pytest.raises(ExpressionError, match="memory budget exceeded"):
        ev("1..100000000")
    with pytest.raises(ExpressionError, match="memory budget exceeded"):
        ev("repeat('x', 100000000)")
    with pytest.raises(ExpressionError, match="memory budget exceeded"):
        ev("concat(map(1..600000, #), map(1..600000, #))")


def test_deep_nesting_is_refused_not_a_crash() -> None:
    with pytest.raises(ExpressionError, match="nested too deeply"):
        compile_expression("(" * 500 + "1" + ")" * 500)
    with pytest.raises(ExpressionError, match="nested too deeply"):
        compile_expression("-" * 500 + "1")


def test_long_chains_evaluate() -> None:
    # A DAG task can depend on hundreds of tasks: `a && b && ...` must not hit recursion.
    env = {f"t{i}": True for i in range(3000)}
    source = " && ".join(env)
    assert evaluate(source, env) is True
    assert evaluate(" + ".join(["1"] * 5000), {}) == 5000


def test_compiled_expression_is_reusable() -> None:
    program = compile_expression("a * 2")
    assert program.source == "a * 2"
    assert evaluate(program, {"a": 2}) == 4
    assert evaluate(program, {"a": 2.5}) == 5.0
    with pytest.raises(ExpressionError, match="unknown name a"):
        evaluate(program, {})


def test_argo_environment_functions() -> None:
    env = expand_variables({"inputs.parameters.n": "21", "inputs.parameters.f": "2.5"})
    assert evaluate("asInt(inputs.parameters.n) * 2", env) == 42
    assert evaluate("asFloat(inputs.parameters.f) * 2", env) == 5.0
    assert evaluate("toJson({b: 1, a: '<'})", env) == '{"a":"\\u003c","b":1}'
    assert evaluate("sprig.upper(inputs.parameters.n)", env) == "21"
    with pytest.raises(ExpressionError, match="invalid operation: int"):
        evaluate("asInt('x')", env)
    with pytest.raises(ExpressionError, match="not enough arguments to call jsonpath"):
        evaluate("jsonpath('{}')", env)


def test_runaway_loops_and_strings_end_in_errors() -> None:
    big = {"xs": list(range(3000))}
    with pytest.raises(ExpressionError, match="loop steps"):
        evaluate("all(xs, all(xs, true))", big)
    with pytest.raises(ExpressionError, match="memory budget exceeded"):
        evaluate("reduce(1..64, #acc + #acc, 'x')", {})


def test_constant_membership_follows_exprs_optimizer() -> None:
    # `x in ['a', 'b']` is a string-set lookup in expr: a non-string needle is an error.
    assert evaluate("m.s in ['a', 'b']", {"m": {"s": "a"}}) is True
    assert evaluate("m.s in ['a', 'b']", {"m": {}}) is False
    with pytest.raises(ExpressionError, match="not assignable to type string"):
        evaluate("m.n in ['1', '2']", {"m": {"n": 1}})
    # `n in 1..N` is a bounds check for an int: no range is built.
    assert evaluate("n in 1..100000000", {"n": 5}) is True
    assert evaluate("n in 1..3", {"n": 2.0}) is True
