"""`when`: govaluate as Argo's shouldExecute runs it.

Cases from Argo's workflow/controller/when_test.go and from govaluate's own
evaluation_test.go (the ones that need no parameters), with their expected values.
"""

from __future__ import annotations

import pytest

from jupyter_argo.errors import ExpressionError
from jupyter_argo.expr import check_when, evaluate_when, expand_variables, substitute
from jupyter_argo.expr._govaluate import evaluate_text

# when_test.go
WHEN_TRUE = [
    "foo == foo",
    "'ref/branch/master' == 'ref/branch/master'",
    "foo != bar",
    "1 == 1",
    "1 != 2",
    "1 < 2",
    "1 <= 1",
    "1/2 == 0.5",
    "a < b",
    "(foo == bar) || (foo == foo)",
    "(1 > 0) && (1 < 2)",
    "Error in (Failed, Error)",
    "!(Succeeded in (Failed, Error))",
    "true == true",
]
WHEN_FALSE = [
    "foo != foo",
    "'ref/branch/master' != 'ref/branch/master'",
    "foo == bar",
    "1 != 1",
    "1 == 2",
    "1 > 2",
    "1 <= 0",
    "1/2 != 0.5",
    "a > b",
    "(foo == bar) || (bar == foo)",
    "(1 > 0) && (11 < 2)",
    "Succeeded in (Failed, Error)",
    "!(Error in (Failed, Error))",
    "false == true",
]


@pytest.mark.parametrize("text", WHEN_TRUE)
def test_should_execute(text: str) -> None:
    assert evaluate_when(text) is True


@pytest.mark.parametrize("text", WHEN_FALSE)
def test_should_not_execute(text: str) -> None:
    assert evaluate_when(text) is False


# govaluate evaluation_test.go: (input, expected)
GOVALUATE = [
    ("51 + 49", 100.0),
    ("100 - 51", 49.0),
    ("100 & 50", 32.0),
    ("100 | 50", 118.0),
    ("100 ^ 50", 86.0),
    ("2 << 1", 4.0),
    ("2 >> 1", 1.0),
    ("~10", -11.0),
    ("100 % 2", 0.0),
    ("101 % 2", 1.0),
    ("10 ** 2", 100.0),
    ("20 & 30 & 50", 16.0),
    ("20 * 5 - 49", 51.0),
    ("100 ^ (23 * (2 | 5))", 197.0),
    ("10 < 50 && (1 != 2 && 1 > 0)", True),
    ("'foobar' =~ 'oba'", True),
    ("'foo' !~ 'bar'", True),
    ("1 + 101 % 2 * 5", 6.0),
    ("1 + 5 ** 3 % 2 * 5", 6.0),
    ("50 << 1 & 90", 64.0),
    ("90 + 50 << 1 * 5", 4480.0),
    ("1 - 2 - 4 - 8", -13.0),
    ("1 * 4 / 2 * 8", 16.0),
    ("true ?? true ? 100 + 200 : 400", 300.0),
    ("'2014-01-02 14:12:22' > '2014-01-02 12:12:22'", True),
    ("'2014-01-02 09:12:22' <= '2014-01-02 12:12:22'", True),
    ("'ab' < 'abc'", True),
    ("'aba' >= 'abc'", False),
    ("!true == false", True),
    ("10 * -10", -100.0),
    ("true ? 10", 10.0),
    ("false ? 10", None),
    ("1 > 5 ? 35.50", None),
    ("true ? 35.50 > 10", True),
    ("false ? 35.50 : 50", 50.0),
    ("true ? 1 : 5 > 10", 1.0),
    ("true ? (false ? 1 : (false ? 2 : 3)) : (false ? 4 : 5)", 3.0),
    ("'foo' + 123 == 'foo123'", True),
    ("123 + 'bar' == '123bar'", True),
    ("'foo' + true == 'footrue'", True),
    ("1 ?? 2", 1.0),
    ("1 in (1, 2, 3)", True),
    ("!(1 in (1, 2, 3))", False),
    ("false || true && true || false", True),
    ("true && true || false && false", True),
]


@pytest.mark.parametrize(("text", "expected"), GOVALUATE)
def test_govaluate_semantics(text: str, expected: object) -> None:
    result = evaluate_text(text)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "foo.bar == x",
            "Invalid 'when' expression 'foo.bar == x': "
            "Unable to access unexported field 'bar' in token 'foo.bar'",
        ),
        ("'abc", "Invalid 'when' expression ''abc': Unclosed string literal"),
        ("((1)", "Unbalanced parenthesis"),
        ("1 +", "Unexpected end of expression"),
        ("foo(1)", "Undefined function foo"),
        (
            "a == #",
            "Invalid 'when' expression 'a == #': Invalid token: '#' "
            '(hint: try wrapping the affected expression in quotes ("))',
        ),
        (
            "!x",
            "Failed to parse 'when' expression '!x': "
            "Cannot transition token types from PREFIX [!] to STRING [x]",
        ),
        (
            "my-step == x",
            "Failed to evaluate 'when' expression 'my-step == x': "
            "Value 'my' cannot be used with the modifier '-', it is not a number",
        ),
        ("1 + 1", "Expected boolean evaluation for '1 + 1'. Got 2"),
        ("hello", "Expected boolean evaluation for 'hello'. Got hello"),
        ("1 >= 'a'", "Value '1' cannot be used with the comparator '>=', it is not a number"),
    ],
)
def test_when_errors_read_like_argo(text: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate_when(text)
    assert message in str(caught.value)


def test_empty_when_executes() -> None:
    assert evaluate_when("") is True


def test_numbers_compare_numerically_and_words_are_strings() -> None:
    assert evaluate_when("10 > 9") is True
    assert evaluate_when("'10' > '9'") is False  # quoted: string comparison
    assert evaluate_when("tails == tails") is True
    assert evaluate_when("heads =~ 'h.*'") is True
    assert evaluate_when("Succeeded != Succeeded") is False


@pytest.mark.parametrize(
    "text",
    [
        "{{steps.flip-coin.outputs.result}} == heads",
        "{{inputs.parameters.num}} != 1 && {{inputs.parameters.num}} != 2",
        "{{= inputs.parameters[\"should-print\"] == 'true'}}",
        "'{{workflow.status}}' == Succeeded",
        "1{{x}} > 5",
        "{{a}}.{{b}} == x",
        "",
    ],
)
def test_check_when_treats_tags_as_values(text: str) -> None:
    check_when(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{x}} ==", "Unexpected end of expression"),
        ("{{x}} == foo.bar", "unexported field"),
        ("{{x}} == 'abc", "Unclosed string literal"),
        ("{{x == y", "cannot find end tag"),
    ],
)
def test_check_when_reports_syntax_errors(text: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        check_when(text)


def test_when_after_expression_substitution() -> None:
    """steps_test.go TestStepsWhenExprWithParamFilter: expr builds the list, govaluate tests it."""
    variables = {"inputs.parameters.test": "true"}
    env = expand_variables(variables)
    listing = substitute(
        "{{= concat(['always'], inputs.parameters.test == 'true' ? ['test'] : []) | toJSON() }}",
        variables,
        expression_env=env,
        json_escape=False,
    )
    variables["inputs.parameters.list"] = listing
    when = (
        "\"{{= get(item, 'type') ?? 'always' }}\"\nin\n"
        '("{{= inputs.parameters.list | fromJSON() | join(\'","\') }}","")\n'
    )
    outcomes = {}
    items = [
        {"name": "first", "type": ""},
        {"name": "second", "type": "always"},
        {"name": "third", "type": "test"},
        {"name": "fourth"},
        {"name": "fifth", "type": "other"},
    ]
    for item in items:
        env = expand_variables(variables)
        env["item"] = item
        text = substitute(when, variables, expression_env=env, json_escape=False)
        outcomes[item["name"]] = evaluate_when(text)
    assert outcomes == {
        "first": True,
        "second": True,
        "third": True,
        "fourth": True,
        "fifth": False,
    }
