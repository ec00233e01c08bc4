"""Argo's expression functions: sprig.*, jsonpath, and the upstream examples that use them."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

import pytest

from jupyter_argo.errors import ExpressionError
from jupyter_argo.expr import evaluate, expand_variables, substitute_object


def ev(source: str, flat: dict[str, Any] | None = None) -> Any:
    return evaluate(source, expand_variables(flat or {}))


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # strings (sprig's argument order: the string comes last)
        ("sprig.trunc(5, 'hello world')", "hello"),
        ("sprig.trunc(-5, 'hello world')", "world"),
        ("sprig.upper('a')", "A"),
        ("sprig.lower('A')", "a"),
        ("sprig.title('hello world')", "Hello World"),
        ("sprig.untitle('Hello')", "hello"),
        ("sprig.trim('  x  ')", "x"),
        ("sprig.trimAll('$', '$5.00$')", "5.00"),
        ("sprig.trimPrefix('-', '-x')", "x"),
        ("sprig.trimSuffix('-', 'x-')", "x"),
        ("sprig.replace(' ', '-', 'a b c')", "a-b-c"),
        ("sprig.repeat(3, 'ab')", "ababab"),
        ("sprig.substr(1, 3, 'hello')", "el"),
        ("sprig.contains('ell', 'hello')", True),
        ("sprig.hasPrefix('he', 'hello')", True),
        ("sprig.hasSuffix('lo', 'hello')", True),
        ("sprig.quote('a\"b', 1)", '"a\\"b" "1"'),
        ("sprig.squote('a', 1)", "'a' '1'"),
        ("sprig.cat('a', 1, nil, true)", "a 1 true"),
        ("sprig.indent(2, 'a\\nb')", "  a\n  b"),
        ("sprig.nindent(2, 'a')", "\n  a"),
        ("sprig.nospace('a b\\tc')", "abc"),
        ("sprig.initials('hello world')", "hw"),
        ("sprig.abbrev(5, 'hello world')", "he..."),
        ("sprig.plural('one', 'many', 2)", "many"),
        ("sprig.snakecase('FirstName')", "first_name"),
        ("sprig.kebabcase('FirstName')", "first-name"),
        ("sprig.camelcase('http_server')", "HttpServer"),
        ("sprig.swapcase('Hello')", "hELLO"),
        ("sprig.wrap(5, 'hello world again')", "hello\nworld\nagain"),
        ("sprig.b64enc('hi')", "aGk="),
        ("sprig.b64dec('aGk=')", "hi"),
        ("sprig.b32enc('hi')", "NBUQ===="),
        ("sprig.sha256sum('')", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("sprig.sha1sum('abc')", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        ("sprig.adler32sum('abc')", "38600999"),
        ("sprig.toString(1.5)", "1.5"),
        ("sprig.splitList(',', 'a,b')", ["a", "b"]),
        ("sprig.split(',', 'a,b')", {"_0": "a", "_1": "b"}),
        ("sprig.join('-', ['a', 1, nil])", "a-1"),
        ("sprig.sortAlpha(['b', 'a'])", ["a", "b"]),
        # numbers: integer maths truncates through int64, like spf13/cast
        ("sprig.add(1, 2, 3)", 6),
        ("sprig.add(1.9, '2')", 3),
        ("sprig.sub(5, 7)", -2),
        ("sprig.mul(2, 3, 4)", 24),
        ("sprig.div(7, 2)", 3),
        ("sprig.div(-7, 2)", -3),
        ("sprig.mod(-7, 3)", -1),
        ("sprig.add1(41)", 42),
        ("sprig.max(1, '7', 3)", 7),
        ("sprig.min(4, 2.9)", 2),
        ("sprig.maxf(1, 2.5)", 2.5),
        ("sprig.addf(0.1, 0.2)", 0.3),
        ("sprig.divf(1, 3)", 0.3333333333333333),
        ("sprig.round(2.5555, 2)", 2.56),
        ("sprig.ceil(1.2)", 2.0),
        ("sprig.floor('1.8')", 1.0),
        ("sprig.int('0x10')", 16),
        ("sprig.int64('42.9')", 42),
        ("sprig.int('nope')", 0),
        ("sprig.float64('2.5')", 2.5),
        ("sprig.atoi('12')", 12),
        ("sprig.toDecimal('0777')", 511),
        ("sprig.until(3)", [0, 1, 2]),
        ("sprig.untilStep(0, 10, 4)", [0, 4, 8]),
        ("sprig.seq(3)", "1 2 3"),
        ("sprig.seq(5, 2)", "5 4 3 2"),
        ("sprig.seq(1, 2, 7)", "1 3 5 7"),
        # defaults and logic
        ("sprig.default('d', '')", "d"),
        ("sprig.default('d', 'x')", "x"),
        ("sprig.default('d')", "d"),
        ("sprig.empty(0)", True),
        ("sprig.empty([1])", False),
        ("sprig.coalesce(nil, '', 'a')", "a"),
        ("sprig.all(1, 'a')", True),
        ("sprig.any(0, '')", False),
        ("sprig.ternary('yes', 'no', 1 > 0)", "yes"),
        ("sprig.compact([1, 0, '', 'a'])", [1, "a"]),
        # lists and dicts
        ("sprig.list(1, 'a')", [1, "a"]),
        ("sprig.dict('a', 1, 'b')", {"a": 1, "b": ""}),
        ("sprig.get({'a': 1}, 'a')", 1),
        ("sprig.get({'a': 1}, 'z')", ""),
        ("sprig.hasKey({'a': 1}, 'a')", True),
        ("sprig.keys({'a': 1})", ["a"]),
        ("sprig.pick({'a': 1, 'b': 2}, 'a')", {"a": 1}),
        ("sprig.omit({'a': 1, 'b': 2}, 'a')", {"b": 2}),
        ("sprig.pluck('a', {'a': 1}, {'b': 2})", [1]),
        ("sprig.merge({'a': 1}, {'a': 2, 'b': 3})", {"a": 1, "b": 3}),
        ("sprig.mergeOverwrite({'a': 1}, {'a': 2})", {"a": 2}),
        ("sprig.append([1], 2)", [1, 2]),
        ("sprig.prepend([1], 0)", [0, 1]),
        ("sprig.first([3, 4])", 3),
        ("sprig.last([3, 4])", 4),
        ("sprig.rest([3, 4])", [4]),
        ("sprig.initial([3, 4])", [3]),
        ("sprig.reverse([1, 2])", [2, 1]),
        ("sprig.uniq([1, 1, 2])", [1, 2]),
        ("sprig.without([1, 2, 3], 2)", [1, 3]),
        ("sprig.has(2, [1, 2])", True),
        ("sprig.slice([1, 2, 3], 1)", [2, 3]),
        ("sprig.concat([1], [2])", [1, 2]),
        ("sprig.chunk(2, [1, 2, 3])", [[1, 2], [3]]),
        ("sprig.dig('a', 'b', 'def', {'a': {'b': 'x'}})", "x"),
        ("sprig.dig('a', 'z', 'def', {'a': {'b': 'x'}})", "def"),
        # JSON
        ("sprig.toJson({'a': '<'})", '{"a":"\\u003c"}'),
        ("sprig.toRawJson({'a': '<'})", '{"a":"<"}'),
        ("sprig.toPrettyJson([1])", "[\n  1\n]"),
        ("sprig.fromJson('{\"a\": 1}')", {"a": 1.0}),
        ("sprig.fromJson('not json')", None),
        # regex (Go's RE2 and its $1 expansion)
        ("sprig.regexMatch('^a.c$', 'abc')", True),
        ("sprig.regexFind('[0-9]+', 'ab12cd34')", "12"),
        ("sprig.regexFindAll('[0-9]+', 'ab12cd34', -1)", ["12", "34"]),
        ("sprig.regexFindAll('a*', 'baaa', -1)", ["", "aaa"]),
        ("sprig.regexReplaceAll('a(x*)b', '-ab-axxb-', '${1}W')", "-W-xxW-"),
        ("sprig.regexReplaceAllLiteral('a(x*)b', '-ab-axxb-', '${1}')", "-${1}-${1}-"),
        ("sprig.regexSplit('z+', 'pizza', -1)", ["pi", "a"]),
        ("sprig.regexQuoteMeta('1.5')", "1\\.5"),
        # paths
        ("sprig.base('/a/b.txt')", "b.txt"),
        ("sprig.dir('/a/b.txt')", "/a"),
        ("sprig.ext('/a/b.txt')", ".txt"),
        ("sprig.clean('a/../b/./c/')", "b/c"),
        ("sprig.isAbs('/a')", True),
        # reflection
        ("sprig.typeOf(1)", "int"),
        ("sprig.kindOf([1])", "slice"),
        ("sprig.kindIs('map', {})", True),
        ("sprig.deepEqual([1], [1])", True),
        # dates
        ("sprig.duration('90')", "1m30s"),
        ("sprig.durationRound('2h10m')", "2h"),
        ("sprig.date('2006-01-02', 0)", "1970-01-01"),
        ("sprig.unixEpoch(sprig.toDate('2006-01-02', '2024-01-02'))", "1704153600"),
        ("sprig.dateInZone('15:04', 0, 'UTC')", "00:00"),
        ("sprig.urlParse('https://u@h:8/p?q=1#f').hostname", "h"),
        ("sprig.hello()", "Hello!"),
    ],
)
def test_sprig(source: str, expected: Any) -> None:
    result = ev(source)
    assert result == expected
    assert type(result) is type(expected)


def test_sprig_random_and_ids_have_the_right_shape() -> None:
    assert re.fullmatch(r"[A-Za-z0-9]{12}", ev("sprig.randAlphaNum(12)"))
    assert re.fullmatch(r"[0-9]{5}", ev("sprig.randNumeric(5)"))
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", ev("sprig.uuidv4()")
    )
    assert 3 <= ev("sprig.randInt(3, 5)") < 5


def test_sprig_date_formats_now_for_a_string() -> None:
    # Argo's expression-tag example passes workflow.creationTimestamp (a string):
    # sprig then formats time.Now(), so this is the current year.
    year = ev(
        "sprig.date('2006', workflow.creationTimestamp)",
        {"workflow.creationTimestamp": "2001-02-03T04:05:06Z"},
    )
    assert year == str(datetime.now(timezone.utc).year)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("sprig.repeat('x', 3)", "reflect: Call using string as type int"),
        ("sprig.upper()", "invalid number of arguments: expected 1, got 0"),
        ("sprig.div(1, 0)", "integer divide by zero"),
        ("sprig.fail('stop here')", "stop here"),
        ("sprig.mustFromJson('{')", "unexpected end of JSON input"),
        ("sprig.env('HOME')", "cannot call nil"),
        ("sprig.bcrypt('x')", "sprig.bcrypt is not supported"),
        ("sprig.until(100000000)", "memory budget exceeded"),
        ("sprig.mustRegexMatch('(', 'x')", "error parsing regexp"),
    ],
)
def test_sprig_errors(source: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(message)):
        ev(source)


def test_jsonpath_errors() -> None:
    with pytest.raises(ExpressionError, match="key 'missing' not found"):
        ev("jsonpath('{\"a\": 1}', '$.missing')")
    with pytest.raises(ExpressionError, match="invalid JSONPath selector"):
        ev("jsonpath('{}', 'a')")
    with pytest.raises(ExpressionError):
        ev("jsonpath('not json', '$')")


def test_expression_reusing_verbose_snippets_example() -> None:
    """examples/expression-reusing-verbose-snippets.yaml, end to end."""
    weather = '{"weekWeather": "eyJ0ZW1wcyI6IFszNCwgMjcsIDE1LCA1NywgNDZdfQo="}'
    source = """
        map([
            jsonpath(
              sprig.b64dec(jsonpath(workflow.parameters.weather, '$.weekWeather')), '$.temps'
            )
          ], {
            toJson({
              avg: sprig.add(#[0], #[1], #[2], #[3], #[4]) / 5,
              min: sprig.min(#[0], #[1], #[2], #[3], #[4]),
              max: sprig.max(#[0], #[1], #[2], #[3], #[4])
            })
        })[0]
    """
    temps = ev(source, {"workflow.parameters.weather": weather})
    assert temps == '{"avg":35.8,"max":57,"min":15}'
    flat = {"inputs.parameters.week-temps": temps}
    assert ev("jsonpath(inputs.parameters['week-temps'], '$.avg')", flat) == 35.8
    assert ev("jsonpath(inputs.parameters['week-temps'], '$.min')", flat) == 15.0


def test_expression_tag_template_example() -> None:
    """examples/expression-tag-template-workflow.yaml: withParam and the item's use."""
    env = expand_variables({})
    assert substitute_object("{{=toJson(filter([1, 3], {# > 1}))}}", {}, expression_env=env) == (
        "[3]"
    )
    flat = {"inputs.parameters.foo": "3"}
    text = "hello {{=asInt(inputs.parameters.foo) * 10}}"
    assert substitute_object(text, flat, expression_env=expand_variables(flat)) == "hello 30"


def test_retry_conditional_example() -> None:
    """examples/retry-conditional.yaml's retryStrategy.expression after substitution."""
    source = (
        'asInt(lastRetry.exitCode) > 1 && lastRetry.status != "Error" && '
        "asInt(lastRetry.duration) < 120 && "
        "(false == true || lastRetry.message matches 'imminent node shutdown|pod deleted')"
    )
    flat = {
        "lastRetry.exitCode": "2",
        "lastRetry.status": "Failed",
        "lastRetry.duration": "5",
        "lastRetry.message": "pod deleted",
    }
    assert ev(source, flat) is True
    flat["lastRetry.exitCode"] = "1"
    assert ev(source, flat) is False


def test_cron_when_example() -> None:
    """examples/cron-when.yaml: `now()` minus a time."""
    source = (
        "cronworkflow.lastScheduledTime == nil || "
        "(now() - cronworkflow.lastScheduledTime).Seconds() > 360"
    )
    assert evaluate(source, {"cronworkflow": {"lastScheduledTime": None}}) is True
    recent = {"cronworkflow": {"lastScheduledTime": datetime.now(timezone.utc)}}
    assert evaluate(source, recent) is False


def test_data_template_filter_example() -> None:
    """examples/data-transformations.yaml: filter(data, {# endsWith "main.log"})."""
    data = ["a/main.log", "b/other.txt", "c/main.log"]
    assert evaluate('filter(data, {# endsWith "main.log"})', {"data": data}) == [
        "a/main.log",
        "c/main.log",
    ]
