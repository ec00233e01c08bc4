"""`{{...}}` substitution, with the cases Argo asserts in util/template/*_test.go.

Argo substitutes on the JSON-marshalled template, so most cases marshal a string with
json.dumps, substitute, and compare against the marshalled expectation, as Argo's
`toJSONString` helper does.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from jupyter_argo.errors import ExpressionError
from jupyter_argo.expr import (
    Tag,
    expand_variables,
    find_tags,
    substitute,
    substitute_object,
)


def to_json(value: Any) -> str:
    return json.dumps(value)


def replace(text: str, variables: dict[str, Any] | None, allow_unresolved: bool) -> str:
    """Argo's template.Replace(ctx, json, replaceMap, allowUnresolved)."""
    variables = variables or {}
    return substitute(
        text,
        variables,
        strict=not allow_unresolved,
        expression_env=expand_variables(variables),
    )


def replace_strict(text: str, variables: dict[str, Any], prefixes: tuple[str, ...]) -> str:
    """Argo's template.ReplaceStrictAny."""
    return substitute(text, variables, strict=prefixes, expression_env=expand_variables(variables))


def process(value: str, variables: dict[str, Any] | None = None) -> str:
    """template_test.go's processTemplate: marshal, Replace(allowUnresolved), unmarshal."""
    variables = variables or {}
    result = substitute_object(
        {"value": value}, variables, expression_env=expand_variables(variables)
    )
    return str(result["value"])


# --- replace_test.go ---------------------------------------------------------------------


def test_invalid_template_is_an_error() -> None:
    with pytest.raises(ExpressionError, match="cannot find end tag"):
        replace(to_json("{{"), None, False)


def test_simple() -> None:
    assert replace(to_json("{{foo}}"), {"foo": "bar"}, False) == to_json("bar")
    assert replace(to_json("{{foo}}"), None, True) == to_json("{{foo}}")
    with pytest.raises(ExpressionError, match=r"^failed to resolve \{\{foo\}\}$"):
        replace(to_json("{{foo}}"), None, False)


def test_expression() -> None:
    assert replace(to_json("{{=foo}}"), {"foo": "bar"}, False) == to_json("bar")
    dig = "{{=sprig.dig('status', nil, workflow)}}"
    assert replace(to_json(dig), {"workflow.status": "Succeeded"}, False) == to_json("Succeeded")


@pytest.mark.parametrize(
    ("status", "expected"), [("Succeeded", "SUCCESSFUL"), ("Failed", "FAILED")]
)
def test_expression_on_workflow_status(status: str, expected: str) -> None:
    text = to_json('{{=workflow.status == "Succeeded" ? "SUCCESSFUL" : "FAILED"}}')
    assert replace(text, {"workflow.status": status}, False) == to_json(expected)


@pytest.mark.parametrize(
    ("failures", "expected"), [('{"foo":"bar"}', "SUCCESSFUL"), ('{"foo":"barr"}', "FAILED")]
)
def test_expression_on_workflow_failures(failures: str, expected: str) -> None:
    text = to_json('{{=workflow.failures == "{\\"foo\\":\\"bar\\"}" ? "SUCCESSFUL" : "FAILED"}}')
    assert replace(text, {"workflow.failures": failures}, False) == to_json(expected)


@pytest.mark.parametrize(
    "tag",
    [
        "{{=foo}}",
        "{{=sprig.int(retries)}}",
        '{{=workflow.status == "Succeeded" ? "SUCCESSFUL" : "FAILED"}}',
        '{{=workflow.failures == "Succeeded" ? "SUCCESSFUL" : "FAILED"}}',
    ],
)
def test_unresolved_expressions_stay_when_allowed(tag: str) -> None:
    assert replace(to_json(tag), None, True) == to_json(tag)


def test_unresolved_expressions_fail_when_disallowed() -> None:
    with pytest.raises(ExpressionError, match=r"^failed to evaluate expression: foo is missing$"):
        replace(to_json("{{=foo}}"), None, False)
    for tag in (
        '{{=workflow.status == "Succeeded" ? "SUCCESSFUL" : "FAILED"}}',
        '{{=workflow.failures == "Succeeded" ? "SUCCESSFUL" : "FAILED"}}',
        "{{=!}}",
    ):
        with pytest.raises(ExpressionError, match="failed to evaluate expression"):
            replace(to_json(tag), None, False)


@pytest.mark.parametrize(
    ("expression", "present", "missing"),
    [
        ("{{= item.optionalKey ?? 'fallback' }}", "value", "fallback"),
        ("{{= item['optionalKey'] ?? 'fallback' }}", "value", "fallback"),
        ("{{= item?.optionalKey ?? 'fallback' }}", "value", "fallback"),
    ],
)
def test_strict_nil_coalescing(expression: str, present: str, missing: str) -> None:
    # ReplaceStrict on the raw template, with item already a map.
    with_key = {"item": {"name": "a", "optionalKey": "value"}}
    without = {"item": {"name": "b"}}
    assert substitute(expression, {}, strict=("item",), expression_env=with_key) == present
    assert substitute(expression, {}, strict=("item",), expression_env=without) == missing
    with pytest.raises(ExpressionError, match=r"^failed to evaluate expression: item is missing$"):
        substitute(expression, {}, strict=("item",), expression_env={})


def test_nested_tags() -> None:
    variables = {"inputs.parameters.message": "hello world"}
    text = to_json(
        '{{- with secret "{{inputs.parameters.message}}" -}}\n'
        "    {{ .Data.data.gitcreds }}\n  {{- end }}"
    )
    expected = to_json(
        '{{- with secret "hello world" -}}\n    {{ .Data.data.gitcreds }}\n  {{- end }}'
    )
    assert replace(text, variables, True) == expected
    text = to_json('{{- with {{ {{ }} secret "{{does-not-exist}}" -}} }}')
    assert replace(text, variables, True) == text


def test_tag_with_whitespace() -> None:
    variables = {"inputs.parameters.message": "hello world"}
    text = to_json("{{ inputs.parameters.message }}")
    assert replace(text, variables, True) == to_json("hello world")


def test_sprig_trunc() -> None:
    variables = {"inputs.parameters.message": "hello world"}
    text = to_json("test {{= sprig.trunc(5, inputs.parameters.message) }}")
    assert replace(text, variables, True) == to_json("test hello")
    text = to_json("test {{= sprig.trunc(-5, inputs.parameters.message) }}")
    assert replace(text, variables, True) == to_json("test world")


ABSENT = {
    "tasks.producer.outputs.parameters.msg": None,
    "tasks.other.outputs.parameters.msg": "real",
}


def test_absent_optionals() -> None:
    prefixes = ("tasks", "steps")
    fallback = to_json("{{= tasks.producer.outputs.parameters.msg ?? 'fallback'}}")
    assert replace_strict(fallback, ABSENT, prefixes) == to_json("fallback")
    empty = {"tasks.producer.outputs.parameters.msg": ""}
    assert replace_strict(fallback, empty, prefixes) == to_json("")
    with pytest.raises(ExpressionError, match="failed to evaluate expression"):
        replace_strict(to_json("{{= tasks.producer.outputs.parameters.msg}}"), ABSENT, prefixes)
    with pytest.raises(ExpressionError, match="absent optional"):
        replace_strict(
            to_json("pre-{{tasks.producer.outputs.parameters.msg}}-post"), ABSENT, prefixes
        )
    simple = to_json("pre-{{tasks.producer.outputs.parameters.msg}}-post")
    assert replace_strict(simple, empty, prefixes) == to_json("pre--post")
    real = to_json("{{= tasks.other.outputs.parameters.msg ?? 'fallback'}}")
    assert replace_strict(real, ABSENT, prefixes) == to_json("real")
    with pytest.raises(ExpressionError, match=r"tasks\.unknown is missing"):
        replace_strict(to_json("{{= tasks.unknown.outputs.parameters.msg}}"), ABSENT, prefixes)


def test_absent_nested_tag() -> None:
    text = to_json("{{outer-{{steps.x.outputs.parameters.key}}}}")
    absent = {"steps.x.outputs.parameters.key": None, "outer-": "resolved-outer"}
    with pytest.raises(ExpressionError, match="is an absent optional"):
        replace_strict(text, absent, ("tasks", "steps"))
    empty = {"steps.x.outputs.parameters.key": "", "outer-": "resolved-outer"}
    first = replace_strict(text, empty, ("tasks", "steps"))
    assert first == to_json("{{outer-}}")
    assert replace_strict(first, empty, ("tasks", "steps")) == to_json("resolved-outer")


def test_strict_prefixes_match_whole_segments() -> None:
    # "tasks" is strict for "tasks.a" but not for "tasksA".
    assert substitute("{{tasksA}}", {}, strict=("tasks",)) == "{{tasksA}}"
    with pytest.raises(ExpressionError, match="failed to resolve"):
        substitute("{{tasks.a.outputs.result}}", {}, strict=("tasks.",))
    # Artifact references may wait for artifact resolution, unless everything is strict.
    art = "{{steps.a.outputs.artifacts.x}}"
    assert substitute(art, {}, strict=("steps",)) == art
    with pytest.raises(ExpressionError):
        substitute(art, {}, strict=True)


# --- template_test.go --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{='test'}}", "test"),
        ('{{="test"}}', "test"),
        ("{{='some\\\\path\\\\with\\\\backslashes'}}", "some\\path\\with\\backslashes"),
        (
            "{{='some\\nstring\\nwith\\nescaped\\nnewlines'}}",
            "some\nstring\nwith\nescaped\nnewlines",
        ),
        ("{{=1 + \n1}}", "2"),
        ("{{=toJson('test')}}", '"test"'),
        ("{{=toJson({test: 1})}}", '{"test":1}'),
        ("{{=toJson([1, '2', {an: 'object'}])}}", '[1,"2",{"an":"object"}]'),
        ('{{="\'"}}', "'"),
        ("{{='\"'}}", '"'),
        ("{{=true == false}}", "false"),
    ],
)
def test_expressions_with_escaped_characters(template: str, expected: str) -> None:
    assert process(template) == expected


@pytest.mark.parametrize("value", ["This is ' John", 'This is " John'])
def test_simple_values_with_quotes(value: str) -> None:
    assert process("{{customParam}}", {"customParam": value}) == value


EMPLOYEES = (
    '{"employees": [{"name": "Baris", "age":43, "friends": ["Mo", "Jai"]}, '
    '{"name": "Mo", "age": 42, "friends": ["Baris", "Jai"]}, '
    '{"name": "Jai", "age" :44, "friends": ["Baris", "Mo"]}]}'
)
SMALL = (
    '{"employees": [{"name": "Baris", "age":43},{"name": "Mo", "age": 42}, '
    '{"name": "Jai", "age" :44}]}'
)


@pytest.mark.parametrize(
    ("data", "path", "expected"),
    [
        (EMPLOYEES, "$.employees[*].name", '["Baris","Mo","Jai"]'),
        (EMPLOYEES, "$.employees[0].friends", '["Mo","Jai"]'),
        (SMALL, "$.employees[0]", '{"age":43,"name":"Baris"}'),
        (
            SMALL,
            "$",
            '{"employees":[{"age":43,"name":"Baris"},{"age":42,"name":"Mo"},'
            '{"age":44,"name":"Jai"}]}',
        ),
        (EMPLOYEES, "$.employees[0]", '{"age":43,"friends":["Mo","Jai"],"name":"Baris"}'),
        (EMPLOYEES, "$.employees[?(@.age>42 && @.age<44)].age", "[43]"),
        (EMPLOYEES, '$.employees[?(@.name=="Baris")].age', "[43]"),
        (EMPLOYEES, "$.employees[0:1][0].name", "Baris"),
    ],
)
def test_expression_with_jsonpath(data: str, path: str, expected: str) -> None:
    assert process(f"{{{{=jsonpath('{data}', '{path}')}}}}") == expected


def test_nested_variable_resolution_takes_passes() -> None:
    variables = {"inner": "suffix", "outer-suffix": "final-value"}
    first = replace('{"key": "{{outer-{{inner}}}}"}', variables, True)
    assert json.loads(first) == {"key": "{{outer-suffix}}"}
    assert json.loads(replace(first, variables, True)) == {"key": "final-value"}


def test_triple_nested_variable_resolution() -> None:
    variables = {"C": "valC", "B valC": "valB", "A valB": "final"}
    text = '{"key": "{{A {{B {{C}}}}}}"}'
    text = replace(text, variables, True)
    assert json.loads(text) == {"key": "{{A {{B valC}}}}"}
    text = replace(text, variables, True)
    assert json.loads(text) == {"key": "{{A valB}}"}
    assert json.loads(replace(text, variables, True)) == {"key": "final"}


# --- expression_template_test.go ---------------------------------------------------------


def test_placeholders_defer_expression_failures() -> None:
    env = expand_variables({"foo": "__argo__internal__placeholder-1"})
    # A placeholder (validation-time stand-in) makes failures unresolved, not errors.
    assert substitute("{{=asInt(foo)}}", {}, strict=True, expression_env=env) == "{{=asInt(foo)}}"
    env = {"foo": "__argo__internal__placeholder-1"}
    assert substitute("{{=foo}}", {}, strict=True, expression_env=env) == (
        "__argo__internal__placeholder-1"
    )


# --- find_tags ---------------------------------------------------------------------------


def test_find_tags() -> None:
    text = "a {{ inputs.parameters.x }} b {{= asInt(x) + 1 }} {{steps.a}}"
    assert find_tags(text) == [
        Tag("simple", "inputs.parameters.x", 2, 27),
        Tag("expression", "asInt(x) + 1", 30, 49),
        Tag("simple", "steps.a", 50, 61),
    ]
    assert find_tags("no tags") == []
    # fasttemplate ends a tag at the first "}}".
    assert find_tags("{{a {{b}} c}}") == [Tag("simple", "a {{b", 0, 9)]
    with pytest.raises(ExpressionError, match="cannot find end tag"):
        find_tags("ok {{ never closed")


# --- substitute_object and raw substitution ----------------------------------------------


def test_substitute_object_escapes_values_like_argo() -> None:
    obj = {"args": ["echo", "{{inputs.parameters.msg}}"], "n": 3}
    variables = {"inputs.parameters.msg": 'a "quoted"\nline\twith\\'}
    assert substitute_object(obj, variables) == {
        "args": ["echo", 'a "quoted"\nline\twith\\'],
        "n": 3,
    }


def test_substitute_object_names_the_tag_that_breaks_json() -> None:
    # strconv.Quote writes \x01, which is not JSON: Argo refuses the result.
    with pytest.raises(ExpressionError, match=r"invalid JSON.*\{\{x\}\}"):
        substitute_object({"v": "{{x}}"}, {"x": "a\x01b"})


def test_expression_results_are_json_marshalled() -> None:
    env = expand_variables({})
    assert substitute_object({"v": "{{=[1, 'a']}}"}, {}, expression_env=env) == {"v": '[1,"a"]'}
    assert substitute_object({"v": "{{=1.0 * 3}}"}, {}, expression_env=env) == {"v": "3"}
    assert substitute_object({"v": "{{='<b>'}}"}, {}, expression_env=env) == {"v": "<b>"}
    assert substitute("{{=[1, 'a']}}", {}, expression_env=env, json_escape=False) == '[1,"a"]'
    assert substitute("{{='<b>'}}", {}, expression_env=env, json_escape=False) == "<b>"


def test_expressions_are_kept_without_an_environment() -> None:
    assert substitute("{{=1 + 1}} {{x}}", {"x": "y"}) == "{{=1 + 1}} y"


def test_raw_substitution_inserts_values_as_they_are() -> None:
    assert substitute('say "{{x}}"', {"x": 'a "b"'}, json_escape=False) == 'say "a "b""'
    assert substitute('say "{{x}}"', {"x": 'a "b"'}) == 'say "a \\"b\\""'


def test_a_value_that_is_not_a_string_is_an_error() -> None:
    with pytest.raises(ExpressionError, match="to string"):
        substitute("{{x}}", {"x": 3})  # type: ignore[dict-item]


# --- expand_test.go ----------------------------------------------------------------------


def test_expand_variables() -> None:
    before = {"a.b": 1, "a.c.d": 2, "a": 3, "ab": 4, "abb": 5}
    after = expand_variables(before)
    assert len(before) == 5
    functions = {"asInt", "asFloat", "jsonpath", "toJson", "sprig"}
    assert {k: v for k, v in after.items() if k not in functions} == {
        "a": {"b": 1, "c": {"d": 2}},
        "ab": 4,
        "abb": 5,
    }
    assert functions <= set(after)


def test_expand_variables_keeps_dashed_names_and_absent_values() -> None:
    env = expand_variables(
        {"steps.flip-coin.outputs.result": "heads", "tasks.a.outputs.parameters.p": None}
    )
    assert env["steps"]["flip-coin"]["outputs"]["result"] == "heads"
    assert env["tasks"]["a"]["outputs"]["parameters"] == {"p": None}
