"""Runs an expr-lang tree: each node is compiled once into a Python closure.

Semantics follow expr v1.17's compiler and VM (short-circuits, `??`, optional chains,
predicate scopes, the memory budget). User text never reaches Python's `eval`: the only
operations are the ones written here, and attribute access is limited to map keys,
struct fields and the Go methods of times and durations.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from jupyter_argo.expr import _ast as ast
from jupyter_argo.expr._builtins import (
    BUILTINS,
    Budget,
    fetch,
    sort_values,
    to_index,
)
from jupyter_argo.expr._gotime import Duration
from jupyter_argo.expr._regex import RegexError, compile_re2
from jupyter_argo.expr._values import (
    AnyKeyMap,
    GoError,
    GoFunc,
    Struct,
    add,
    divide,
    equal,
    exponent,
    go_param_name,
    go_type,
    is_array,
    is_int,
    less,
    modulo,
    multiply,
    negate,
    normalize,
    subtract,
    to_int,
)

__all__ = ["Context", "Program", "compile_tree", "go_in"]


class _NilChain(Exception):
    """A `?.` met nil: the enclosing chain evaluates to nil."""


class _Scope:
    __slots__ = ("acc", "index", "item")

    def __init__(self) -> None:
        self.item: Any = None
        self.index = 0
        self.acc: Any = None


class Context:
    """State of one evaluation."""

    __slots__ = ("budget", "env", "scopes", "vars")

    def __init__(self, env: Mapping[str, Any], slots: int) -> None:
        self.env = env
        self.vars: list[Any] = [None] * slots
        self.scopes: list[_Scope] = []
        self.budget = Budget()


Fn = Callable[[Context], Any]


class Program:
    """A compiled tree: call it with a Context."""

    __slots__ = ("run", "slots")

    def __init__(self, run: Fn, slots: int) -> None:
        self.run = run
        self.slots = slots

    def __call__(self, env: Mapping[str, Any]) -> Any:
        return self.run(Context(env, self.slots))


def compile_tree(tree: ast.Node) -> Program:
    compiler = _Compiler()
    run = compiler.compile(tree)
    return Program(run, compiler.slots)


def _bool(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    raise GoError(f"invalid operation: {what} (mismatched type {go_type(value)})")


def go_in(needle: Any, haystack: Any) -> bool:
    """expr's `in` (runtime.In)."""
    if haystack is None:
        return False
    if is_array(haystack):
        return any(equal(item, needle) for item in haystack)
    if isinstance(haystack, Mapping):
        if isinstance(haystack, AnyKeyMap):
            try:
                return needle in haystack
            except TypeError:
                raise GoError(f"runtime error: hash of unhashable type {go_type(needle)}") from None
        if needle is None:
            needle = ""
        if not isinstance(needle, str):
            raise GoError(
                f"reflect.Value.MapIndex: value of type {go_type(needle)} is not assignable to "
                "type string"
            )
        return needle in haystack
    if isinstance(haystack, Struct):
        if not isinstance(needle, str):
            raise GoError(f"cannot use {go_type(needle)} as field name of {haystack.name}")
        return needle in haystack.fields
    raise GoError(f'operator "in" not defined on {go_type(haystack)}')


def _string_op(op: str, a: Any, b: Any) -> bool:
    """`contains`, `startsWith`, `endsWith`: nil on either side is false."""
    if a is None or b is None:
        return False
    if not isinstance(a, str) or not isinstance(b, str):
        bad = b if isinstance(a, str) else a
        raise GoError(f"interface conversion: interface {{}} is {go_type(bad)}, not string")
    if op == "contains":
        return b in a
    return a.startswith(b) if op == "startsWith" else a.endswith(b)


def _matches(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    if not isinstance(b, str):
        raise GoError(f"interface conversion: interface {{}} is {go_type(b)}, not string")
    try:
        pattern = compile_re2(b)
    except RegexError as err:
        raise GoError(str(err)) from None
    if isinstance(a, bytes):
        a = a.decode("utf-8", errors="replace")
    if not isinstance(a, str):
        raise GoError(f"interface conversion: interface {{}} is {go_type(a)}, not []uint8")
    return pattern.matches(a)


Special = Callable[[Any, "Context", Fn], Any]


def _constant_operand(node: ast.Binary) -> Special | None:
    """What expr's compiler and optimizer do with a constant right-hand side.

    `matches 'literal'` compiles the regex once; `in ['a', 'b']` becomes a string-set
    lookup (expr's inArray), so a non-string needle is an error, not false; `in 1..9`
    with an int needle is a bounds check (inRange) that allocates nothing.
    """
    right = node.right
    if node.op == "matches" and isinstance(right, ast.Const) and isinstance(right.value, str):
        pattern = right.value
        return lambda value, c, _: False if value is None else _matches(value, pattern)
    if node.op != "in":
        return None
    strings = isinstance(right, ast.Array) and all(
        isinstance(i, ast.Const) and isinstance(i.value, str) for i in right.items
    )
    if isinstance(right, ast.Array) and right.items and strings:
        members = frozenset(i.value for i in right.items if isinstance(i, ast.Const))
        return lambda value, c, _: _in_string_set(value, members)
    if (
        isinstance(right, ast.Binary)
        and right.op == ".."
        and isinstance(right.left, ast.Const)
        and isinstance(right.right, ast.Const)
        and is_int(right.left.value)
        and is_int(right.right.value)
    ):
        low, high = right.left.value, right.right.value

        def in_range(value: Any, c: Context, right_fn: Fn) -> Any:
            if is_int(value):
                return bool(low <= value <= high)
            return go_in(value, right_fn(c))

        return in_range
    return None


def _in_string_set(value: Any, members: frozenset[str]) -> bool:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise GoError(
            f"reflect.Value.MapIndex: value of type {go_type(value)} is not assignable to "
            "type string"
        )
    return value in members


def _make_range(ctx: Context, a: Any, b: Any) -> list[int]:
    lo, hi = to_int(a), to_int(b)
    size = max(hi - lo + 1, 0)
    ctx.budget.grow(size)
    return list(range(lo, hi + 1))


_SIMPLE_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "==": equal,
    "!=": lambda a, b: not equal(a, b),
    "<": lambda a, b: less("<", a, b),
    ">": lambda a, b: less(">", a, b),
    "<=": lambda a, b: less("<=", a, b),
    ">=": lambda a, b: less(">=", a, b),
    "+": add,
    "-": subtract,
    "*": multiply,
    "/": divide,
    "%": modulo,
    "**": exponent,
    "^": exponent,
    "in": lambda a, b: go_in(a, b),
    "matches": _matches,
    "contains": lambda a, b: _string_op("contains", a, b),
    "startsWith": lambda a, b: _string_op("startsWith", a, b),
    "endsWith": lambda a, b: _string_op("endsWith", a, b),
}


def call_value(fn: Any, args: list[Any]) -> Any:
    """Call a function value the way expr's OpCall does."""
    if fn is None:
        raise GoError("invalid operation: cannot call nil")
    if isinstance(fn, GoFunc):
        return call_go(fn, args)
    if callable(fn):
        try:
            return normalize(fn(*args))
        except GoError:
            raise
        except (TypeError, AttributeError, ValueError, OverflowError) as err:
            raise GoError(f"invalid call: {err}") from None
    raise GoError(f"invalid operation: cannot call non-function of type {go_type(fn)}")


_ZERO: dict[str, Any] = {
    "string": "",
    "int": 0,
    "float64": 0.0,
    "bool": False,
    "duration": Duration(0),
}


def _assignable(value: Any, param: str) -> bool:
    if param == "any":
        return True
    if param == "string":
        return isinstance(value, str)
    if param == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if param == "float64":
        return isinstance(value, float)
    if param == "bool":
        return isinstance(value, bool)
    if param in ("[]any", "[]string"):
        return is_array(value) and (param == "[]any" or all(isinstance(v, str) for v in value))
    if param == "map":
        return isinstance(value, Mapping) and not isinstance(value, AnyKeyMap)
    if param == "time":
        from datetime import datetime

        return isinstance(value, datetime)
    if param == "duration":
        return isinstance(value, Duration)
    return True


def call_go(fn: GoFunc, args: list[Any]) -> Any:
    """reflect.Value.Call: arity and assignability checks, nil becomes the zero value."""
    params = fn.params
    n = len(params)
    if fn.variadic:
        if len(args) < n - 1:
            raise GoError(
                f"invalid number of arguments: expected at least {n - 1}, got {len(args)}"
            )
    elif len(args) != n:
        raise GoError(f"invalid number of arguments: expected {n}, got {len(args)}")
    converted: list[Any] = []
    for i, arg in enumerate(args):
        param = params[min(i, n - 1)] if fn.variadic else params[i]
        if arg is None:
            converted.append(_ZERO.get(param))
            continue
        if not _assignable(arg, param):
            raise GoError(f"reflect: Call using {go_type(arg)} as type {go_param_name(param)}")
        converted.append(arg)
    try:
        return normalize(fn.fn(*converted))
    except GoError:
        raise
    except RecursionError:
        raise GoError("recursion depth exceeded") from None
    except (TypeError, ValueError, AttributeError, OverflowError, ZeroDivisionError) as err:
        raise GoError(f"{fn.name}: {err}") from None


class _Compiler:
    def __init__(self) -> None:
        self.slots = 0
        self.lets: list[tuple[str, int]] = []

    def compile(self, node: ast.Node) -> Fn:
        method = getattr(self, "c_" + type(node).__name__)
        fn: Fn = method(node)
        return fn

    def c_Nil(self, node: ast.Nil) -> Fn:
        return lambda c: None

    def c_Const(self, node: ast.Const) -> Fn:
        value = node.value
        return lambda c: value

    def c_Ident(self, node: ast.Ident) -> Fn:
        name = node.name
        for let_name, slot in reversed(self.lets):
            if let_name == name:
                return lambda c: c.vars[slot]
        if name == "$env":
            return lambda c: c.env
        return lambda c: normalize(c.env.get(name))

    def c_Pointer(self, node: ast.Pointer) -> Fn:
        name = node.name

        def run(c: Context) -> Any:
            if not c.scopes:
                raise GoError("cannot use pointer accessor outside predicate")
            scope = c.scopes[-1]
            if name == "":
                return scope.item
            if name == "index":
                return scope.index
            if name == "acc":
                return scope.acc
            raise GoError(f"unknown pointer #{name}")

        return run

    def c_Unary(self, node: ast.Unary) -> Fn:
        inner = self.compile(node.node)
        op = node.op
        if op in ("!", "not"):
            return lambda c: not _bool(inner(c), op)
        if op == "-":
            return lambda c: negate(inner(c))
        return inner

    def c_Binary(self, node: ast.Binary) -> Fn:
        # Walk the left spine iteratively: `a && b && c ...` chains can be very long.
        spine: list[ast.Binary] = []
        current: ast.Node = node
        while isinstance(current, ast.Binary):
            spine.append(current)
            current = current.left
        first = self.compile(current)
        steps = [(b.op, self.compile(b.right), _constant_operand(b)) for b in reversed(spine)]

        def run(c: Context) -> Any:
            value = first(c)
            for op, right, constant in steps:
                if op in ("||", "or"):
                    if not _bool(value, op):
                        value = right(c)
                elif op in ("&&", "and"):
                    if _bool(value, op):
                        value = right(c)
                elif op == "??":
                    if value is None:
                        value = right(c)
                elif op == "..":
                    value = _make_range(c, value, right(c))
                elif constant is not None:
                    value = constant(value, c, right)
                else:
                    value = _SIMPLE_BINARY[op](value, right(c))
            return value

        return run

    def c_Chain(self, node: ast.Chain) -> Fn:
        inner = self.compile(node.node)

        def run(c: Context) -> Any:
            try:
                return inner(c)
            except _NilChain:
                return None

        return run

    def c_Member(self, node: ast.Member) -> Fn:
        base = self.compile(node.node)
        prop = self.compile(node.prop)
        if node.optional:

            def optional(c: Context) -> Any:
                obj = base(c)
                if obj is None:
                    raise _NilChain
                return fetch(obj, prop(c))

            return optional
        if isinstance(node.prop, ast.Const):
            key = node.prop.value
            return lambda c: fetch(base(c), key)
        return lambda c: fetch(base(c), prop(c))

    def c_Slice(self, node: ast.Slice) -> Fn:
        base = self.compile(node.node)
        low = self.compile(node.low) if node.low is not None else None
        high = self.compile(node.high) if node.high is not None else None

        def run(c: Context) -> Any:
            value = base(c)
            if high is not None:
                hi_value = high(c)
            else:
                if not isinstance(value, list | tuple | str | bytes):
                    raise GoError(f"invalid argument for len (type {go_type(value)})")
                hi_value = len(value.encode()) if isinstance(value, str) else len(value)
            lo_value = low(c) if low is not None else 0
            return _slice(value, lo_value, hi_value)

        return run

    def c_Call(self, node: ast.Call) -> Fn:
        callee = self.compile(node.callee)
        args = [self.compile(a) for a in node.args]
        return lambda c: call_value(callee(c), [a(c) for a in args])

    def c_Predicate(self, node: ast.Predicate) -> Fn:
        return self.compile(node.node)

    def c_Let(self, node: ast.Let) -> Fn:
        value = self.compile(node.value)
        slot = self.slots
        self.slots += 1
        self.lets.append((node.name, slot))
        body = self.compile(node.body)
        self.lets.pop()

        def run(c: Context) -> Any:
            c.vars[slot] = value(c)
            return body(c)

        return run

    def c_Sequence(self, node: ast.Sequence) -> Fn:
        parts = [self.compile(n) for n in node.nodes]

        def run(c: Context) -> Any:
            value = None
            for part in parts:
                value = part(c)
            return value

        return run

    def c_Cond(self, node: ast.Cond) -> Fn:
        cond, yes, no = self.compile(node.cond), self.compile(node.yes), self.compile(node.no)

        def run(c: Context) -> Any:
            test = cond(c)
            if not isinstance(test, bool):
                raise GoError(f"non-bool expression (type {go_type(test)}) used as condition")
            return yes(c) if test else no(c)

        return run

    def c_Array(self, node: ast.Array) -> Fn:
        items = [self.compile(n) for n in node.items]

        def run(c: Context) -> list[Any]:
            c.budget.grow(len(items))
            return [item(c) for item in items]

        return run

    def c_Map(self, node: ast.Map) -> Fn:
        pairs = [(self.compile(k), self.compile(v)) for k, v in node.pairs]

        def run(c: Context) -> dict[str, Any]:
            c.budget.grow(len(pairs))
            out: dict[str, Any] = {}
            for key_fn, value_fn in pairs:
                key = key_fn(c)
                value = value_fn(c)
                if not isinstance(key, str):
                    raise GoError(
                        f"interface conversion: interface {{}} is {go_type(key)}, not string"
                    )
                out[key] = value
            return out

        return run

    def c_Builtin(self, node: ast.Builtin) -> Fn:
        if node.name in _PREDICATE_RUNNERS:
            return _PREDICATE_RUNNERS[node.name](self, node)
        spec = BUILTINS[node.name]
        args = [self.compile(a) for a in node.args]
        count = len(args)
        if count < spec.min_args or (spec.max_args is not None and count > spec.max_args):
            expected = str(spec.min_args) if spec.min_args == spec.max_args else f"{spec.min_args}+"
            message = f"invalid number of arguments (expected {expected}, got {count})"

            def wrong(c: Context) -> Any:
                raise GoError(message)

            return wrong
        fn = spec.fn
        return lambda c: fn(c.budget, [a(c) for a in args])


def _slice(value: Any, lo: Any, hi: Any) -> Any:
    if isinstance(value, list | tuple | str | bytes):
        data: Any = value
        text = isinstance(value, str) and not value.isascii()
        if isinstance(value, str) and text:
            data = value.encode()
        length = len(data)
        a, b = to_index(lo), to_index(hi)
        if a < 0:
            a = max(length + a, 0)
        if b < 0:
            b = max(length + b, 0)
        b = min(b, length)
        a = min(a, b)
        result = data[a:b]
        if text:
            return result.decode("utf-8", errors="replace")
        return list(result) if isinstance(result, tuple) else result
    raise GoError(f"cannot slice {go_type(lo) if lo is None else lo}")


# --- predicate builtins ------------------------------------------------------------------


def _collection(value: Any, name: str) -> list[Any]:
    if is_array(value):
        return list(value)
    if value is None:
        raise GoError("reflect: call of reflect.Value.Len on zero Value")
    raise GoError(f"builtin {name} takes only array (got {go_type(value)})")


def _loop(
    compiler: _Compiler, node: ast.Builtin, body: Callable[[Context, list[Any], Fn, Fn | None], Any]
) -> Fn:
    collection = compiler.compile(node.args[0])
    predicate = compiler.compile(node.args[1]) if len(node.args) > 1 else None
    extra = compiler.compile(node.args[2]) if len(node.args) > 2 else None
    name = node.name

    def run(c: Context) -> Any:
        items = _collection(collection(c), name)
        scope = _Scope()
        c.scopes.append(scope)
        try:
            return body(c, items, predicate or _item, extra)
        finally:
            c.scopes.pop()

    return run


def _item(c: Context) -> Any:
    return c.scopes[-1].item


def _predicate_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise GoError(f"interface conversion: interface {{}} is {go_type(value)}, not bool")


def _iterate(c: Context, items: list[Any]) -> Any:
    scope = c.scopes[-1]
    c.budget.step(len(items))
    interrupt = c.budget.interrupt
    for index, item in enumerate(items):
        if interrupt is not None and interrupt.reason is not None:
            interrupt.check()  # an interrupt ends even the longest loop at its next item
        scope.item = item
        scope.index = index
        yield item


def _all(c: Context, items: list[Any], pred: Fn, _: Fn | None) -> bool:
    return all(_predicate_bool(pred(c)) for _ in _iterate(c, items))


def _none(c: Context, items: list[Any], pred: Fn, _: Fn | None) -> bool:
    return all(not _predicate_bool(pred(c)) for _ in _iterate(c, items))


def _any(c: Context, items: list[Any], pred: Fn, _: Fn | None) -> bool:
    return any(_predicate_bool(pred(c)) for _ in _iterate(c, items))


def _one(c: Context, items: list[Any], pred: Fn, _: Fn | None) -> bool:
    return sum(_predicate_bool(pred(c)) for _ in _iterate(c, items)) == 1


def _filter(c: Context, items: list[Any], pred: Fn, _: Fn | None) -> list[Any]:
    out = [item for item in _iterate(c, items) if _predicate_bool(pred(c))]
    c.budget.grow(len(out))
    return out


def _map(c: Context, items: list[Any], pred: Fn, _: Fn | None) -> list[Any]:
    out = [pred(c) for _ in _iterate(c, items)]
    c.budget.grow(len(out))
    return out


def _count(c: Context, items: list[Any], pred: Fn, _: Fn | None) -> int:
    return sum(_predicate_bool(pred(c)) for _ in _iterate(c, items))


def _sum(c: Context, items: list[Any], pred: Fn, _: Fn | None) -> Any:
    total: Any = 0
    for _ in _iterate(c, items):
        total = add(pred(c), total)
    return total


def _find(c: Context, items: list[Any], pred: Fn, _: Fn | None) -> Any:
    for item in _iterate(c, items):
        if _predicate_bool(pred(c)):
            return item
    return None


def _find_index(c: Context, items: list[Any], pred: Fn, _: Fn | None) -> Any:
    for index, _item in enumerate(_iterate(c, items)):
        if _predicate_bool(pred(c)):
            return index
    return None


def _backwards(c: Context, items: list[Any]) -> Any:
    scope = c.scopes[-1]
    c.budget.step(len(items))
    interrupt = c.budget.interrupt
    for index in range(len(items) - 1, -1, -1):
        if interrupt is not None and interrupt.reason is not None:
            interrupt.check()
        scope.item = items[index]
        scope.index = index
        yield index, items[index]


def _find_last(c: Context, items: list[Any], pred: Fn, _: Fn | None) -> Any:
    for _index, item in _backwards(c, items):
        if _predicate_bool(pred(c)):
            return item
    return None


def _find_last_index(c: Context, items: list[Any], pred: Fn, _: Fn | None) -> Any:
    for index, _item in _backwards(c, items):
        if _predicate_bool(pred(c)):
            return index
    return None


def _group_by(c: Context, items: list[Any], pred: Fn, _: Fn | None) -> AnyKeyMap:
    groups = AnyKeyMap()
    for item in _iterate(c, items):
        key = pred(c)
        try:
            groups.setdefault(key, []).append(item)
        except TypeError:
            raise GoError(f"runtime error: hash of unhashable type {go_type(key)}") from None
    return groups


def _sort_by(c: Context, items: list[Any], pred: Fn, order: Fn | None) -> list[Any]:
    direction = order(c) if order is not None else "asc"
    if not isinstance(direction, str):
        raise GoError("sortBy order argument must be a string")
    if direction not in ("asc", "desc"):
        raise GoError("unknown order, use asc or desc")
    pairs = [(item, pred(c)) for item in _iterate(c, items)]
    c.budget.grow(len(pairs))
    return [item for item, _ in sort_values(pairs, direction == "desc", key=lambda p: p[1])]


def _reduce(c: Context, items: list[Any], pred: Fn, initial: Fn | None) -> Any:
    scope = c.scopes[-1]
    start = 0
    if initial is not None:
        # The initial value is evaluated inside the loop's scope, as expr does.
        scope.acc = initial(c)
    else:
        if not items:
            raise GoError("reduce of empty array with no initial value")
        scope.acc = items[0]
        start = 1
    c.budget.step(len(items))
    interrupt = c.budget.interrupt
    for index in range(start, len(items)):
        if interrupt is not None and interrupt.reason is not None:
            interrupt.check()
        scope.item = items[index]
        scope.index = index
        scope.acc = pred(c)
    return scope.acc


_BODIES: dict[str, Callable[[Context, list[Any], Fn, Fn | None], Any]] = {
    "all": _all,
    "none": _none,
    "any": _any,
    "one": _one,
    "filter": _filter,
    "map": _map,
    "count": _count,
    "sum": _sum,
    "find": _find,
    "findIndex": _find_index,
    "findLast": _find_last,
    "findLastIndex": _find_last_index,
    "groupBy": _group_by,
    "sortBy": _sort_by,
    "reduce": _reduce,
}


def _runner(
    body: Callable[[Context, list[Any], Fn, Fn | None], Any],
) -> Callable[[_Compiler, ast.Builtin], Fn]:
    return lambda compiler, node: _loop(compiler, node, body)


_PREDICATE_RUNNERS: dict[str, Callable[[_Compiler, ast.Builtin], Fn]] = {
    name: _runner(body) for name, body in _BODIES.items()
}
