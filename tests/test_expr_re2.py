"""Go's regexp in linear time (RE2), and runs that end within a second of an interrupt.

A backtracking pattern (`^(a+)+$` against 40 `a`s and a `!`) never finished with
Python's `re`, and held the interpreter so that Ctrl-C was ignored. Every user pattern
(`=~` in `when`, `matches`, sprig's regex functions, jsonpath filters, `logs --grep`) now
runs in RE2, with Go's syntax checks and Go's rules for matches; and an interrupt ends a
run within a second whatever it is doing, an expression included.
"""

from __future__ import annotations

import _thread
import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from jupyter_argo.backends.local import LocalBackend
from jupyter_argo.engine.store import Store
from jupyter_argo.errors import ExpressionError
from jupyter_argo.expr import evaluate, evaluate_when, expand_variables
from jupyter_argo.expr._regex import RegexError, compile_re2
from jupyter_argo.spec.parse import parse_text

EVIL = "^(a+)+$"
SUBJECT = "a" * 40 + "!"


def ev(source: str, flat: dict[str, Any] | None = None) -> Any:
    return evaluate(source, expand_variables(flat or {}))


def timed(fn: Any, *args: Any) -> tuple[Any, float]:
    began = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - began


# ---- the pathological pattern, everywhere Go's regexp is used ------------------------------

PATHOLOGICAL = {
    "when": lambda: evaluate_when(f"'{SUBJECT}' =~ '{EVIL}'"),
    "when !~": lambda: not evaluate_when(f"'{SUBJECT}' !~ '{EVIL}'"),
    "matches": lambda: ev(f"s matches '{EVIL}'", {"s": SUBJECT}),
    "matches, pattern from a variable": lambda: ev("s matches p", {"s": SUBJECT, "p": EVIL}),
    "sprig.regexMatch": lambda: ev(f"sprig.regexMatch('{EVIL}', s)", {"s": SUBJECT}),
    "sprig.mustRegexMatch": lambda: ev(f"sprig.mustRegexMatch('{EVIL}', s)", {"s": SUBJECT}),
    "sprig.regexFindAll": lambda: ev(f"sprig.regexFindAll('{EVIL}', s, -1)", {"s": SUBJECT}),
    "sprig.regexReplaceAll": lambda: ev(
        "sprig.regexReplaceAll('(a+)+b', s, 'x') != s", {"s": SUBJECT}
    ),
    "sprig.regexSplit": lambda: ev(f"len(sprig.regexSplit('{EVIL}', s, -1)) != 1", {"s": SUBJECT}),
    "jsonpath filter": lambda: ev(
        f"jsonpath(j, \"$[?(@.n =~ '{EVIL}')]\")", {"j": json.dumps([{"n": SUBJECT}])}
    ),
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("where", list(PATHOLOGICAL))
def test_a_backtracking_pattern_answers_at_once(where: str) -> None:
    result, seconds = timed(PATHOLOGICAL[where])
    assert not result  # false (or empty): no match, as in Go
    assert seconds < 0.1, f"{where}: {seconds:.3f}s"


@pytest.mark.timeout(60)
def test_a_backtracking_pattern_in_a_real_local_run() -> None:
    text = f"""
    apiVersion: argoproj.io/v1alpha1
    kind: Workflow
    metadata: {{generateName: evil-regex-}}
    spec:
      entrypoint: main
      arguments: {{parameters: [{{name: s, value: "{SUBJECT}"}}]}}
      templates:
      - name: main
        steps:
        - - name: when-false
            template: say
            arguments: {{parameters: [{{name: x, value: ran}}]}}
            when: "'{{{{workflow.parameters.s}}}}' =~ '{EVIL}'"
          - name: matches
            template: say
            arguments:
              parameters: [{{name: x, value: "{{{{=workflow.parameters.s matches '{EVIL}'}}}}"}}]
          - name: sprig
            template: say
            arguments:
              parameters:
              - name: x
                value: "{{{{=sprig.regexMatch('{EVIL}', workflow.parameters.s)}}}}"
      - name: say
        inputs: {{parameters: [{{name: x}}]}}
        container: {{image: alpine, command: [echo, "{{{{inputs.parameters.x}}}}"]}}
    """
    (doc,) = [d for d in parse_text(textwrap.dedent(text)) if d.kind == "Workflow"]
    engine = LocalBackend()
    began = time.monotonic()
    created = engine.submit(doc.body)
    final = engine.wait(created["metadata"]["name"], timeout=30)
    assert time.monotonic() - began < 5  # three steps; each pattern was evaluated at once
    assert final["status"]["phase"] == "Succeeded", final["status"].get("message")
    nodes = {n["displayName"]: n for n in final["status"]["nodes"].values()}
    assert nodes["when-false"]["phase"] == "Skipped"
    assert "evaluated false" in nodes["when-false"]["message"]
    for name in ("matches", "sprig"):
        assert nodes[name]["phase"] == "Succeeded"
        assert nodes[name]["inputs"]["parameters"] == [{"name": "x", "value": "false"}]


# ---- Go's syntax checks, in Go's words -------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("(a", "missing closing ): `(a`"),
        ("a)", "unexpected ): `a)`"),
        ("[a", "missing closing ]: `[a`"),
        ("[z-a]", "invalid character class range: `z-a`"),
        ("[[:foo:]]", "invalid character class range: `[:foo:]`"),
        ("\\p{Foo}", "invalid character class range: `\\p{Foo}`"),
        ("a**", "invalid nested repetition operator: `**`"),
        ("a*?+", "invalid nested repetition operator: `*?+`"),
        ("*", "missing argument to repetition operator: `*`"),
        ("a{1001}", "invalid repeat count: `{1001}`"),
        ("(a{1000}){1000}", "invalid repeat count: `{1000}`"),
        ("(a)\\1", "invalid escape sequence: `\\1`"),  # no backreferences
        ("\\8", "invalid escape sequence: `\\8`"),
        ("\\C", "invalid escape sequence: `\\C`"),  # RE2's any-byte: not in Go
        ("\\Z", "invalid escape sequence: `\\Z`"),
        ("a\\", "trailing backslash at end of expression: ``"),
        ("(?=a)", "invalid or unsupported Perl syntax: `(?=`"),  # no lookaround
        ("(?<!a)b", "invalid or unsupported Perl syntax: `(?<!`"),
        ("(?i-)", "invalid or unsupported Perl syntax: `(?i-)`"),
        ("(?P<n", "invalid named capture: `(?P<n`"),
        ("(?P<é>a)", "invalid named capture: `(?P<é>`"),  # Go: ASCII names only
    ],
)
def test_invalid_patterns_fail_as_go_says(pattern: str, message: str) -> None:
    with pytest.raises(RegexError) as caught:
        compile_re2(pattern)
    assert str(caught.value) == f"error parsing regexp: {message}"


def test_pattern_errors_reach_each_language_in_its_words() -> None:
    with pytest.raises(ExpressionError, match=re.escape("error parsing regexp: missing closing )")):
        ev("'a' matches '('")
    with pytest.raises(ExpressionError, match=re.escape("error parsing regexp: missing closing )")):
        evaluate_when("'a' =~ '(a'")
    with pytest.raises(ExpressionError, match="error parsing regexp: invalid escape sequence"):
        ev("sprig.mustRegexFind('\\\\C', 'a')")
    assert ev("sprig.regexMatch('(', 'a')") is False  # the non-must form swallows it, as sprig


@pytest.mark.parametrize(
    ("pattern", "text", "found"),
    [
        ("\\pL+", "héllo wörld", "héllo"),  # Unicode classes (Python's `re` has none)
        ("\\p{Greek}+", "abc αβγ", "αβγ"),
        ("\\PL+", "ab12cd", "12"),
        ("[[:^alpha:]]+", "ab12cd", "12"),  # negated POSIX class
        ("[\\D]+", "12ab34", "ab"),
        ("(?U)a+", "aaa", "a"),  # ungreedy mode
        ("(?U)a+?", "aaa", "aaa"),
        ("\\Qa.b\\E+", "a.bbb", "a.bbb"),
        ("(?<w>b)", "abc", "b"),  # Go 1.22's short named group
        ("\\x{263a}", "☺", "☺"),
        ("\\101", "A", "A"),  # octal
        ("a{,2}", "a{,2}", "a{,2}"),  # not a repeat: literal, as in Go
        ("(?i)straße", "STRASSE straße", "straße"),  # simple folding only, as Go
        ("(?i)k", "\u212a", "\u212a"),  # Kelvin sign folds to k
    ],
)
def test_go_syntax_that_python_lacked(pattern: str, text: str, found: str) -> None:
    match = compile_re2(pattern).search(text)
    assert match is not None
    assert match.group() == found


# ---- Go's rules for what matches -------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # `$` is the end of the text only (not before a final newline), without (?m)
        ("sprig.regexMatch('a$', 'a\\n')", False),
        ("sprig.regexMatch('(?m)a$', 'a\\nb')", True),
        # \d, \w, \s and \b are ASCII
        ("sprig.regexMatch('^\\\\d$', '٣')", False),
        ("sprig.regexMatch('^\\\\w$', 'é')", False),
        ("sprig.regexMatch('\\\\bé', ' é')", False),
        # leftmost-first, as Go (not leftmost-longest)
        ("sprig.regexFind('a|ab', 'ab')", "a"),
        ("sprig.regexFind('a*?b', 'aab')", "aab"),
        # FindAll: no empty match right after a match; runes, not bytes
        ("sprig.regexFindAll('a*', 'baaac', -1)", ["", "aaa", ""]),
        ("sprig.regexFindAll('', 'hé', -1)", ["", "", ""]),
        ("sprig.regexFindAll('.', 'hé☺', 2)", ["h", "é"]),
        ("sprig.regexFindAll('x*', '', -1)", [""]),
        # ReplaceAll: Go's empty-match rule and Expand's $name / ${name}
        ("sprig.regexReplaceAll('a*', 'baaac', 'X')", "XbXcX"),
        ("sprig.regexReplaceAll('', 'hé', '-')", "-h-é-"),
        ("sprig.regexReplaceAll('(?P<w>\\\\w+)', 'ab cd', '<$w>')", "<ab> <cd>"),
        ("sprig.regexReplaceAll('(\\\\w)(\\\\w)', 'ab', '$2$1')", "ba"),
        ("sprig.regexReplaceAll('(\\\\w)', 'ab', '$1x')", ""),  # `$1x` names group `1x`
        ("sprig.regexReplaceAll('(\\\\w)', 'ab', '${1}x')", "axbx"),
        ("sprig.regexReplaceAll('(\\\\w)', 'a', '$01')", ""),  # a leading zero: a name
        ("sprig.regexReplaceAll('a', 'a', '$$ $')", "$ $"),
        ("sprig.regexReplaceAll('(é)', 'xéx', '[${1}]')", "x[é]x"),
        ("sprig.regexReplaceAllLiteral('a', 'a', '$1')", "$1"),
        # Split as Go's Regexp.Split
        ("sprig.regexSplit('a', 'banana', 2)", ["b", "nana"]),
        ("sprig.regexSplit('', 'abc', -1)", ["a", "b", "c"]),
        ("sprig.regexSplit('x*', 'axbc', -1)", ["a", "b", "c"]),
        ("sprig.regexSplit('é', 'aébéc', -1)", ["a", "b", "c"]),
        ("sprig.regexSplit('a', '', -1)", [""]),
        ("sprig.regexSplit('a', 'a', 0)", None),
    ],
)
def test_matches_follow_go(source: str, expected: Any) -> None:
    assert ev(source) == expected


def test_jsonpath_filters_and_logs_grep_use_go_regexp() -> None:
    data = json.dumps([{"n": "αβ"}, {"n": "ab"}])
    assert ev("jsonpath(j, \"$[?(@.n =~ '^\\\\pL+$')]\")", {"j": data}) == json.loads(data)
    assert ev("jsonpath(j, \"$[?(@.n =~ '(?=a)')]\")", {"j": data}) == []  # invalid: no match
    engine = LocalBackend()
    with pytest.raises(Exception, match=re.escape("not a regular expression (error parsing")):
        list(engine.logs("nothing", grep="(?<=x)"))


# ---- our own fixed patterns stay linear ------------------------------------------------------

LONG = 50_000


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "source",
    [
        "float(s)",  # Go's float syntax: a long run of digits, then not a number
        "sprig.float64(s)",
        "toJSON(jsonpath('[1]', '$[?(@ > ' + s + ')]'))",
        "sprig.snakecase(caps)",  # a long run of capitals
        "sprig.kebabcase(caps)",
    ],
)
def test_fixed_patterns_stay_linear_on_hostile_input(source: str) -> None:
    flat = {"s": "1" * LONG + "x", "caps": "A" * LONG}
    began = time.perf_counter()
    with contextlib.suppress(ExpressionError):
        ev(source, flat)
    # Linear: well under a second on a quiet machine; a quadratic pattern takes tens of
    # seconds on this input. The margin is for a shared, loaded machine.
    assert time.perf_counter() - began < 3.0


@pytest.mark.timeout(60)
def test_float_syntax_and_depends_stay_linear() -> None:
    from jupyter_argo.expr import _builtins, _govaluate, _jsonpath, depends_tasks

    hostile = "1" * LONG + "x"
    for pattern in (_govaluate._GO_FLOAT, _builtins._FLOAT, _jsonpath._GO_FLOAT):
        _, seconds = timed(pattern.fullmatch, hostile)
        assert seconds < 0.2
    name = "a-" * LONG + "a"
    result, seconds = timed(depends_tasks, f"{name} && b.Succeeded")
    assert result == [name, "b"]
    assert seconds < 1.0


def test_rewritten_fixed_patterns_match_what_they_replace() -> None:
    """Each linear rewrite finds exactly what the backtracking original found."""
    from jupyter_argo.expr import _builtins, _depends, _govaluate, _jsonpath

    old_float = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)")
    old_result = re.compile(r"([a-zA-Z0-9][-a-zA-Z0-9]*?\.[A-Z][a-zA-Z]+)")
    rng = random.Random(15)
    for _ in range(4000):
        text = "".join(rng.choice("0123456789.eE+-x") for _ in range(rng.randint(0, 8)))
        expected = bool(old_float.fullmatch(text))
        assert bool(_govaluate._GO_FLOAT.fullmatch(text)) == expected, text
        assert bool(_builtins._FLOAT.fullmatch(text)) == expected, text
        assert bool(_jsonpath._GO_FLOAT.fullmatch(text)) == expected, text
        caps = "".join(rng.choice("ABab1 _") for _ in range(rng.randint(0, 10)))
        spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", caps)
        original = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
        assert re.sub(r"(?<=[A-Z])(?=[A-Z][a-z])", " ", spaced) == original, caps
        depends = "".join(rng.choice("ab-.SF ucd|&(") for _ in range(rng.randint(0, 14)))
        found = [m.group(1) for m in _depends._TASK_NAME.finditer(depends) if m.group(1)]
        assert found == [m.group(1) for m in old_result.finditer(depends)], depends


# ---- RE2 loads only when a pattern does --------------------------------------------------------


@pytest.mark.timeout(120)
def test_re2_is_imported_only_by_a_workflow_with_a_pattern(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        import jupyter_argo.cli, jupyter_argo.magics
        from jupyter_argo.backends.local import LocalBackend
        from jupyter_argo.spec.parse import parse_text
        engine = LocalBackend()
        def run(command, when):
            text = f'''
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {{generateName: plain-}}
        spec:
          entrypoint: main
          templates:
          - name: main
            when: "{when}"
            container: {{image: alpine, command: [echo, "{command}"]}}
        '''
            (doc,) = parse_text(text)
            name = engine.submit(doc.body)["metadata"]["name"]
            return engine.wait(name, timeout=30)["status"]["phase"]
        print(run("{{=1 + 1}}", "1 == 1"), "re2" in sys.modules)
        print(run("{{='ab' matches 'b'}}", "1 == 1"), "re2" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=100, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["Succeeded False", "Succeeded True"]


# ---- interrupts end a run within a second, whatever it is doing ------------------------------

# Each item evaluates a loop of 4.8 million steps (about 5 s): far longer than the test.
HEAVY = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: heavy-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: think
        template: say
        withSequence: {count: "20"}
        arguments:
          parameters:
          - name: x
            value: "{{=let r = 1..2200; count(r, {count(r, {# > 0}) > 0})}}"
  - name: say
    inputs: {parameters: [{name: x}]}
    container: {image: alpine, command: [echo, "{{inputs.parameters.x}}"]}
"""

SLEEPY = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: sleepy-}
spec:
  entrypoint: main
  templates:
  - name: main
    container: {image: alpine, command: [sh, -c, "trap '' TERM; sleep 97; sleep 97"]}
"""


def sleepers(marker: str = "sleep 97") -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if marker in " ".join(process.info["cmdline"] or []):
                found.append(process)
        except psutil.NoSuchProcess:
            continue
    return found


def until(condition: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


def stored(home: Path) -> list[dict[str, Any]]:
    return Store(home).list_workflows(None)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("during", ["a step that ignores SIGTERM", "an expression"])
def test_ctrl_c_ends_a_cli_run_within_a_second(tmp_path: Path, during: str) -> None:
    home = Path(os.environ["JUPYTER_ARGO_HOME"])
    path = tmp_path / "workflow.yaml"
    path.write_text(HEAVY if during == "an expression" else SLEEPY)
    cli = subprocess.Popen(
        [sys.executable, "-m", "jupyter_argo.cli", "run", str(path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        if during == "an expression":
            until(lambda: stored(home))
            time.sleep(1.5)  # the engine is deep in the first item's expression by now
        else:
            until(lambda: sleepers())
        assert cli.poll() is None
        began = time.monotonic()
        cli.send_signal(signal.SIGINT)
        _, err = cli.communicate(timeout=30)
        took = time.monotonic() - began
    finally:
        if cli.poll() is None:
            cli.kill()
    assert cli.returncode == 130, err
    assert took < 1.0, f"exited {took:.2f}s after SIGINT"
    assert "interrupted, terminated" in err
    (final,) = stored(home)
    status = final["status"]
    assert status["phase"] in ("Failed", "Error")
    assert status["message"] == "interrupted by the user (Ctrl-C)"
    assert status.get("finishedAt")
    if during == "an expression":  # it was the evaluation that the interrupt cut short
        messages = [n.get("message", "") for n in status["nodes"].values()]
        assert any("evaluation interrupted" in m for m in messages), messages
    assert sleepers() == []


def _submit(engine: LocalBackend, text: str) -> str:
    (doc,) = [d for d in parse_text(text) if d.kind == "Workflow"]
    return str(engine.submit(doc.body)["metadata"]["name"])


def _interrupt_main_in(seconds: float) -> threading.Thread:
    def later() -> None:
        time.sleep(seconds)
        _thread.interrupt_main()  # as SIGINT does: KeyboardInterrupt in the main thread

    thread = threading.Thread(target=later, daemon=True)
    thread.start()
    return thread


@pytest.mark.timeout(120)
def test_wait_is_interrupted_during_an_expression_and_the_run_ends() -> None:
    engine = LocalBackend()
    name = _submit(engine, HEAVY)
    _interrupt_main_in(1.0)
    began = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        engine.wait(name)
    assert time.monotonic() - began < 1.5  # the wait itself never blocks a signal out
    began = time.monotonic()
    final = engine.interrupt(name, message="interrupted by the test")
    assert time.monotonic() - began < 1.0
    assert final["status"]["phase"] in ("Failed", "Error")
    assert final["status"]["message"] == "interrupted by the test"
    assert Store(engine.store.home).get_workflow(name, "default")["status"]["phase"] in (
        "Failed",
        "Error",
    )


@pytest.mark.timeout(120)
def test_interrupt_ends_a_run_whose_engine_is_stuck() -> None:
    """The last resort: the engine's loop is busy in work no interrupt reaches (here a
    plain sleep on its thread); the run still ends within a second, steps killed."""
    engine = LocalBackend()
    name = _submit(engine, SLEEPY)
    until(lambda: sleepers())
    loop = engine._ensure_loop()
    stuck = threading.Event()
    loop.call_soon_threadsafe(lambda: (stuck.set(), time.sleep(3)))
    stuck.wait(10)
    began = time.monotonic()
    final = engine.interrupt(name, message="interrupted by the test")
    assert time.monotonic() - began < 1.0
    assert final["status"]["phase"] == "Failed"
    assert final["status"]["message"] == "interrupted by the test"
    assert all(n["phase"] != "Running" for n in final["status"].get("nodes", {}).values())
    saved = Store(engine.store.home).get_workflow(name, "default")["status"]
    assert (saved["phase"], saved["message"]) == ("Failed", "interrupted by the test")
    until(lambda: not sleepers(), timeout=5)
    # Once free, the loop carries out the terminate; the run stays ended as it was saved.
    time.sleep(3.5)
    again = Store(engine.store.home).get_workflow(name, "default")["status"]
    assert (again["phase"], again["message"]) == ("Failed", "interrupted by the test")


@pytest.mark.timeout(120)
def test_a_kernel_interrupt_ends_a_cell_deep_in_an_expression() -> None:
    from IPython.core.interactiveshell import InteractiveShell

    from jupyter_argo.magics import RunInterrupted

    class Shell(InteractiveShell):
        def run_cell(self, raw_cell: str, *args: Any, **kwargs: Any) -> Any:
            result = super().run_cell(raw_cell, *args, **kwargs)
            result.raise_error()
            return result

    shell = Shell.instance()
    try:
        shell.run_cell("%load_ext jupyter_argo")
        _interrupt_main_in(2.0)
        began = time.monotonic()
        with pytest.raises(RunInterrupted, match="terminated"):
            shell.run_cell(f"%%argo --out run --no-view\n{HEAVY.strip()}\n")
        assert time.monotonic() - began < 3.0  # 2 s, then within a second of the interrupt
        run = shell.user_ns["run"]
        assert run.phase in ("Failed", "Error")
        assert run.message == "interrupted by the user (kernel interrupt)"
    finally:
        Shell.clear_instance()


@pytest.mark.timeout(120)
def test_terminate_ends_a_run_deep_in_an_expression() -> None:
    engine = LocalBackend()
    name = _submit(engine, HEAVY)
    time.sleep(1.0)
    began = time.monotonic()
    engine.terminate(name)
    final = engine.wait(name, timeout=30)
    assert time.monotonic() - began < 1.0
    assert final["status"]["phase"] in ("Failed", "Error")
    assert final["status"]["message"] == "Stopped with strategy 'Terminate'"


@pytest.mark.timeout(180)
def test_a_real_kernel_interrupt_ends_a_cell_deep_in_an_expression() -> None:
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3")
    try:

        def execute(code: str) -> dict[str, Any]:
            msg_id = client.execute(code)
            while True:
                reply = client.get_shell_msg(timeout=60)
                if reply["parent_header"].get("msg_id") == msg_id:
                    return dict(reply["content"])

        assert execute("%load_ext jupyter_argo")["status"] == "ok"
        msg_id = client.execute(f"%%argo --out run --no-view\n{HEAVY.strip()}\n")
        time.sleep(2.5)  # the cell is in its watch, the engine deep in an expression
        began = time.monotonic()
        manager.interrupt_kernel()
        while True:
            reply = client.get_shell_msg(timeout=60)
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        took = time.monotonic() - began
        assert reply["content"]["ename"] == "RunInterrupted", reply["content"]
        assert took < 1.0, f"the cell ended {took:.2f}s after the interrupt"
        shown = execute("print(run.phase)")
        assert shown["status"] == "ok"
        ended = client.execute("", user_expressions={"r": "run.phase + '|' + run.message"})
        while True:
            reply = client.get_shell_msg(timeout=60)
            if reply["parent_header"].get("msg_id") == ended:
                break
        text = reply["content"]["user_expressions"]["r"]["data"]["text/plain"]
        phase, message = text.strip("'").split("|")
        assert phase in ("Failed", "Error")
        assert message == "interrupted by the user (kernel interrupt)"
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
