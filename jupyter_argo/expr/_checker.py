"""expr-lang's compile-time checks, against the natures (types) of the environment.

Argo compiles every expression with `expr.Env(env)`, so expr's checker rejects some
programs before they run: an unknown top-level name, `"a" + 1`, `len(1)`, a predicate
that does not return a bool, a regex literal that does not compile. Only the top-level
names of the environment have known types (nested maps hold `interface{}`), exactly as
in expr, so everything below them is checked at run time instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from jupyter_argo.expr import _ast as ast
from jupyter_argo.expr._builtins import BUILTINS, PREDICATE_BUILTINS
from jupyter_argo.expr._gotime import Duration, time_method
from jupyter_argo.expr._regex import RegexError, compile_re2
from jupyter_argo.expr._values import AnyKeyMap, GoFunc, StringSlice, Struct, go_param_name

__all__ = ["CheckFailure", "Nature", "check", "free_names", "nature_of"]


class CheckFailure(Exception):
    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


@dataclass(frozen=True)
class Nature:
    kind: str  # unknown nil bool int float string bytes array map time duration struct func
    elem: Nature | None = None
    struct: Struct | None = None
    func: GoFunc | None = None

    @property
    def unknown(self) -> bool:
        return self.kind == "unknown"

    @property
    def number(self) -> bool:
        return self.kind in ("int", "float")

    def __str__(self) -> str:
        if self.kind == "array":
            return "[]" + (
                str(self.elem) if self.elem and not self.elem.unknown else "interface {}"
            )
        if self.kind == "struct" and self.struct is not None:
            return self.struct.name
        if self.kind == "func" and self.func is not None:
            return self.func.go_name
        return _GO_NAMES.get(self.kind, self.kind)


_GO_NAMES = {
    "unknown": "interface {}",
    "float": "float64",
    "map": "map[string]interface {}",
    "anymap": "map[interface {}][]interface {}",
    "time": "time.Time",
    "duration": "time.Duration",
    "bytes": "[]uint8",
    "location": "*time.Location",
    "func": "func",
}

UNKNOWN = Nature("unknown")
NIL = Nature("nil")
BOOL = Nature("bool")
INT = Nature("int")
FLOAT = Nature("float")
STRING = Nature("string")
TIME = Nature("time")
DURATION = Nature("duration")
MAP = Nature("map")
ARRAY = Nature("array", UNKNOWN)
FUNC = Nature("func")


def nature_of(value: Any) -> Nature:
    """The nature expr derives from a top-level environment value."""
    simple = _SIMPLE_NATURES.get(type(value))
    if simple is not None:
        return simple
    if isinstance(value, Struct):
        return Nature("struct", struct=value)
    if value is None:
        return NIL
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return FLOAT
    if isinstance(value, str):
        return STRING
    if isinstance(value, bytes | bytearray):
        return Nature("bytes")
    if isinstance(value, AnyKeyMap):
        return Nature("anymap")
    if isinstance(value, Mapping):
        return MAP
    if isinstance(value, StringSlice):
        return Nature("array", elem=STRING)
    if isinstance(value, list | tuple):
        return ARRAY
    if isinstance(value, datetime):
        return TIME
    if isinstance(value, Duration | timedelta):
        return DURATION
    if isinstance(value, Struct):
        return Nature("struct", struct=value)
    if isinstance(value, GoFunc):
        return Nature("func", func=value)
    if isinstance(value, tzinfo):
        return Nature("location")
    return FUNC if callable(value) else UNKNOWN


_SIMPLE_NATURES: dict[type, Nature] = {
    type(None): NIL,
    bool: BOOL,
    int: INT,
    float: FLOAT,
    str: STRING,
    dict: MAP,
    list: ARRAY,
    tuple: ARRAY,
}


def _from_spec(result: str) -> Nature:
    return {
        "int": INT,
        "float": FLOAT,
        "string": STRING,
        "bool": BOOL,
        "array": ARRAY,
        "map": Nature("anymap"),
        "time": TIME,
        "duration": DURATION,
    }.get(result, UNKNOWN)


def _go_param_nature(param: str) -> Nature:
    return {
        "string": STRING,
        "int": INT,
        "float64": FLOAT,
        "bool": BOOL,
        "[]any": ARRAY,
        "[]string": Nature("array", STRING),
        "map": MAP,
        "time": TIME,
        "duration": DURATION,
    }.get(param, UNKNOWN)


def _assignable(a: Nature, b: Nature) -> bool:
    if a.kind != b.kind:
        return False
    if a.kind == "array":
        ea, eb = a.elem or UNKNOWN, b.elem or UNKNOWN
        return ea.kind == eb.kind
    if a.kind == "struct":
        return a.struct is not None and b.struct is not None and a.struct.name == b.struct.name
    return a.kind != "func"


def _comparable(a: Nature, b: Nature) -> bool:
    return (
        a.unknown
        or b.unknown
        or a.kind == "nil"
        or b.kind == "nil"
        or (a.number and b.number)
        or (a.kind == b.kind and a.kind in ("duration", "time", "array"))
        or _assignable(a, b)
    )


def _maybe(a: Nature, b: Nature, *kinds: str) -> bool:
    def of(n: Nature) -> bool:
        return any(
            (k == "number" and n.number) or (k == "integer" and n.kind == "int") or n.kind == k
            for k in kinds
        )

    return (a.unknown and b.unknown) or (a.unknown and of(b)) or (b.unknown and of(a))


def _promote(a: Nature, b: Nature) -> Nature:
    if a.unknown or b.unknown:
        return UNKNOWN
    return FLOAT if "float" in (a.kind, b.kind) else INT


class _Scope:
    def __init__(self, collection: Nature, variables: dict[str, Nature]) -> None:
        self.collection = collection
        self.variables = variables


class _Checker:
    def __init__(self, env: Mapping[str, Any]) -> None:
        self.env = env
        self.lets: list[tuple[str, Nature]] = []
        self.scopes: list[_Scope] = []

    def fail(self, node: ast.Node, message: str) -> CheckFailure:
        return CheckFailure(message, node.pos)

    def visit(self, node: ast.Node) -> Nature:
        method = getattr(self, "v_" + type(node).__name__)
        nature: Nature = method(node)
        return nature

    def v_Nil(self, node: ast.Nil) -> Nature:
        return NIL

    def v_Const(self, node: ast.Const) -> Nature:
        value = node.value
        if isinstance(value, bytes):
            return Nature("bytes")
        return nature_of(value)

    def v_Ident(self, node: ast.Ident) -> Nature:
        for name, nature in reversed(self.lets):
            if name == node.name:
                return nature
        if node.name == "$env":
            return UNKNOWN
        return self.ident(node, node.name, strict=True, builtins=True)

    def ident(self, node: ast.Node, name: str, strict: bool, builtins: bool) -> Nature:
        if name in self.env:
            return nature_of(self.env[name])
        if builtins and (name in BUILTINS or name in PREDICATE_BUILTINS):
            return FUNC
        if strict:
            raise self.fail(node, f"unknown name {name}")
        return UNKNOWN

    def v_Pointer(self, node: ast.Pointer) -> Nature:
        if not self.scopes:
            raise self.fail(node, "cannot use pointer accessor outside predicate")
        scope = self.scopes[-1]
        if node.name == "":
            if scope.collection.unknown:
                return UNKNOWN
            if scope.collection.kind == "array":
                return scope.collection.elem or UNKNOWN
            raise self.fail(node, f"cannot use {scope.collection} as array")
        if node.name in scope.variables:
            return scope.variables[node.name]
        raise self.fail(node, f"unknown pointer #{node.name}")

    def v_Unary(self, node: ast.Unary) -> Nature:
        nature = self.visit(node.node)
        if node.op in ("!", "not"):
            if nature.kind == "bool" or nature.unknown:
                return BOOL
        elif nature.number:
            return nature
        elif nature.unknown:
            return UNKNOWN
        raise self.fail(node, f"invalid operation: {node.op} (mismatched type {nature})")

    def v_Binary(self, node: ast.Binary) -> Nature:
        spine: list[ast.Binary] = []
        current: ast.Node = node
        while isinstance(current, ast.Binary):
            spine.append(current)
            current = current.left
        left = self.visit(current)
        for step in reversed(spine):
            left = self.binary(step, left, self.visit(step.right))
        return left

    def binary(self, node: ast.Binary, lhs: Nature, rhs: Nature) -> Nature:
        op = node.op
        if op in ("==", "!="):
            if _comparable(lhs, rhs):
                return BOOL
        elif op in ("or", "||", "and", "&&"):
            if (lhs.kind == "bool" and rhs.kind == "bool") or _maybe(lhs, rhs, "bool"):
                return BOOL
        elif op in ("<", ">", "<=", ">="):
            if (lhs.number and rhs.number) or (
                lhs.kind == rhs.kind and lhs.kind in ("string", "time", "duration")
            ):
                return BOOL
            if _maybe(lhs, rhs, "number", "string", "time", "duration"):
                return BOOL
        elif op == "-":
            if lhs.number and rhs.number:
                return _promote(lhs, rhs)
            pairs = {("time", "time"): DURATION, ("time", "duration"): TIME}
            pairs[("duration", "duration")] = DURATION
            if (lhs.kind, rhs.kind) in pairs:
                return pairs[(lhs.kind, rhs.kind)]
            if _maybe(lhs, rhs, "number", "time", "duration"):
                return UNKNOWN
        elif op == "*":
            if lhs.number and rhs.number:
                return _promote(lhs, rhs)
            if (
                "duration" in (lhs.kind, rhs.kind)
                and (lhs.number or lhs.kind == "duration")
                and (rhs.number or rhs.kind == "duration")
            ):
                return DURATION
            if _maybe(lhs, rhs, "number", "duration"):
                return UNKNOWN
        elif op in ("/", "**", "^"):
            if (lhs.number and rhs.number) or _maybe(lhs, rhs, "number"):
                return FLOAT
        elif op == "%":
            if (lhs.kind == "int" and rhs.kind == "int") or _maybe(lhs, rhs, "integer"):
                return INT
        elif op == "+":
            if lhs.number and rhs.number:
                return _promote(lhs, rhs)
            if lhs.kind == "string" and rhs.kind == "string":
                return STRING
            if {lhs.kind, rhs.kind} == {"time", "duration"}:
                return TIME
            if lhs.kind == "duration" and rhs.kind == "duration":
                return DURATION
            if _maybe(lhs, rhs, "number", "string", "time", "duration"):
                return UNKNOWN
        elif op == "in":
            return self.check_in(node, lhs, rhs)
        elif op == "matches":
            if isinstance(node.right, ast.Const) and isinstance(node.right.value, str):
                try:
                    compile_re2(node.right.value)
                except RegexError as err:
                    raise self.fail(node, str(err)) from None
            if (lhs.kind in ("string", "bytes") and rhs.kind == "string") or _maybe(
                lhs, rhs, "string"
            ):
                return BOOL
        elif op in ("contains", "startsWith", "endsWith"):
            if (lhs.kind == "string" and rhs.kind == "string") or _maybe(lhs, rhs, "string"):
                return BOOL
        elif op == "..":
            if (lhs.kind == "int" and rhs.kind == "int") or _maybe(lhs, rhs, "integer"):
                return Nature("array", INT)
        elif op == "??":
            if lhs.kind == "nil":
                return rhs
            if rhs.kind == "nil" or _assignable(rhs, lhs):
                return lhs
            return UNKNOWN
        raise self.fail(node, f"invalid operation: {op} (mismatched types {lhs} and {rhs})")

    def check_in(self, node: ast.Binary, lhs: Nature, rhs: Nature) -> Nature:
        if (lhs.kind == "string" or lhs.unknown) and rhs.kind == "struct":
            return BOOL
        if rhs.kind == "map":
            if not lhs.unknown and lhs.kind != "string":
                raise self.fail(node, f"cannot use {lhs} as type string in map key")
            return BOOL
        if rhs.kind == "anymap":
            return BOOL
        if rhs.kind == "array":
            elem = rhs.elem or UNKNOWN
            if not _comparable(lhs, elem):
                raise self.fail(node, f"cannot use {lhs} as type {elem} in array")
            return BOOL
        if lhs.unknown and rhs.kind in ("string", "array", "map"):
            return BOOL
        if rhs.unknown:
            return BOOL
        raise self.fail(node, f"invalid operation: in (mismatched types {lhs} and {rhs})")

    def v_Chain(self, node: ast.Chain) -> Nature:
        return self.visit(node.node)

    def v_Member(self, node: ast.Member) -> Nature:
        if (
            isinstance(node.node, ast.Ident)
            and node.node.name == "$env"
            and not any(name == "$env" for name, _ in self.lets)
        ):
            if isinstance(node.prop, ast.Const) and isinstance(node.prop.value, str):
                return self.ident(node, node.prop.value, strict=not node.optional, builtins=False)
            self.visit(node.prop)
            return UNKNOWN
        base = self.visit(node.node)
        prop = self.visit(node.prop)
        if base.unknown:
            return UNKNOWN
        name = node.prop.value if isinstance(node.prop, ast.Const) else None
        if isinstance(name, str):
            if base.kind == "nil":
                raise self.fail(node, f"type nil has no field {name}")
            if base.kind in ("time", "duration") and _has_method(base.kind, name):
                return FUNC
        if base.kind in ("map", "anymap"):
            if base.kind == "map" and not prop.unknown and prop.kind != "string":
                raise self.fail(node.prop, f"cannot use {prop} to get an element from {base}")
            return base.elem or UNKNOWN
        if base.kind == "array":
            if prop.kind != "int" and not prop.unknown:
                raise self.fail(
                    node.prop, f"array elements can only be selected using an integer (got {prop})"
                )
            return base.elem or UNKNOWN
        struct = base.struct if base.kind == "struct" else None
        if struct is not None and isinstance(name, str) and name in struct.fields:
            return nature_of(struct.fields[name])
        what = "method" if node.method else "field"
        if isinstance(name, str):
            raise self.fail(node, f"type {base} has no {what} {name}")
        raise self.fail(node, f"type {base}[{prop}] is undefined")

    def v_Slice(self, node: ast.Slice) -> Nature:
        nature = self.visit(node.node)
        if nature.unknown:
            return UNKNOWN
        if nature.kind not in ("string", "array", "bytes"):
            raise self.fail(node, f"cannot slice {nature}")
        for bound in (node.low, node.high):
            if bound is not None:
                b = self.visit(bound)
                if b.kind != "int" and not b.unknown:
                    raise self.fail(bound, f"non-integer slice index {b}")
        return nature

    def v_Call(self, node: ast.Call) -> Nature:
        callee = node.callee
        if isinstance(callee, ast.Ident) and callee.name == "$env":
            raise self.fail(node, "map[string]interface {} is not callable")
        nature = self.visit(callee)
        if nature.unknown or (nature.kind == "func" and nature.func is None):
            for arg in node.args:
                self.visit(arg)
            return UNKNOWN
        name = "function"
        if isinstance(callee, ast.Ident):
            name = callee.name
        elif isinstance(callee, ast.Member) and isinstance(callee.prop, ast.Const):
            name = str(callee.prop.value)
        if nature.kind == "nil":
            raise self.fail(node, f"{name} is nil; cannot call nil as function")
        if nature.kind == "func" and nature.func is not None:
            return self.check_arguments(name, nature.func, node)
        raise self.fail(node, f"{nature} is not callable")

    def check_arguments(self, name: str, fn: GoFunc, node: ast.Call) -> Nature:
        n = len(fn.params)
        args = node.args
        if (fn.variadic and len(args) < n - 1) or (not fn.variadic and len(args) < n):
            raise self.fail(node, f"not enough arguments to call {name}")
        if not fn.variadic and len(args) > n:
            raise self.fail(node, f"too many arguments to call {name}")
        for i, arg in enumerate(args):
            given = self.visit(arg)
            param = fn.params[min(i, n - 1)]
            expected = _go_param_nature(param)
            if given.kind == "nil":
                if param in ("any", "[]any", "[]string", "map"):
                    continue
                raise self.fail(
                    arg, f"cannot use nil as argument (type {go_param_name(param)}) to call {name}"
                )
            if expected.unknown or given.unknown:
                continue
            if given.kind == "int" and expected.kind == "float":
                continue  # expr turns integer literals into floats here
            if not _assignable(given, expected) and not (
                given.kind == "array" and expected.kind == "array"
            ):
                raise self.fail(
                    arg,
                    f"cannot use {given} as argument (type {go_param_name(param)}) to call {name} ",
                )
        return _go_param_nature(fn.result)

    def v_Builtin(self, node: ast.Builtin) -> Nature:
        if node.name in PREDICATE_BUILTINS:
            return self.predicate_builtin(node)
        if node.name == "get":
            return self.builtin_get(node)
        spec = BUILTINS[node.name]
        natures = [self.visit(arg) for arg in node.args]
        count = len(natures)
        if count < spec.min_args or (spec.max_args is not None and count > spec.max_args):
            if spec.max_args is None:
                raise self.fail(node, f"not enough arguments to call {node.name}")
            raise self.fail(
                node, f"invalid number of arguments (expected {spec.min_args}, got {count})"
            )
        self.builtin_arguments(node, natures)
        if spec.result == "same":
            return natures[0]
        return _from_spec(spec.result)

    def builtin_arguments(self, node: ast.Builtin, natures: list[Nature]) -> None:
        name = node.name
        first = natures[0] if natures else UNKNOWN
        if first.unknown:
            first_ok = True
        elif name == "len":
            first_ok = first.kind in ("array", "map", "anymap", "string", "bytes")
        elif name in ("abs", "ceil", "floor", "round"):
            first_ok = first.number
        elif name in ("int", "float"):
            first_ok = first.number or first.kind == "string"
        elif name in _STRING_FIRST:
            first_ok = first.kind == "string"
        elif name in ("keys", "values", "toPairs"):
            first_ok = first.kind in ("map", "anymap")
        elif name in ("first", "last", "reverse", "uniq", "flatten", "take", "fromPairs"):
            first_ok = first.kind == "array"
        else:
            first_ok = True
        if not first_ok:
            if name in _STRING_FIRST:
                raise self.fail(
                    node.args[0], f"cannot use {first} as argument (type string) to call {name} "
                )
            raise self.fail(node, f"invalid argument for {name} (type {first})")

    def builtin_get(self, node: ast.Builtin) -> Nature:
        if len(node.args) != 2:
            raise self.fail(node, f"invalid number of arguments (expected 2, got {len(node.args)})")
        base = self.visit(node.args[0])
        self.visit(node.args[1])
        if base.kind == "array":
            return base.elem or UNKNOWN
        return UNKNOWN

    def predicate_builtin(self, node: ast.Builtin) -> Nature:
        name = node.name
        collection = self.visit(node.args[0])
        if collection.kind != "array" and not collection.unknown:
            raise self.fail(node.args[0], f"builtin {name} takes only array (got {collection})")
        elem = collection.elem or UNKNOWN if collection.kind == "array" else UNKNOWN
        variables: dict[str, Nature] = {}
        if name in ("map", "reduce"):
            variables["index"] = INT
        if name == "reduce":
            variables["acc"] = UNKNOWN
        out: Nature = UNKNOWN
        if len(node.args) > 1:
            self.scopes.append(_Scope(collection, variables))
            try:
                out = self.visit(node.args[1])
            finally:
                self.scopes.pop()
        returns_other = out.kind != "bool" and not out.unknown
        if name in _BOOL_PREDICATES and len(node.args) > 1 and returns_other:
            raise self.fail(node.args[1], f"predicate should return boolean (got {out})")
        if name == "sortBy" and len(node.args) == 3:
            order = self.visit(node.args[2])
            if order.kind != "string" and not order.unknown:
                raise self.fail(
                    node.args[2], f"sortBy order argument must be a string (got {order})"
                )
        if name == "reduce" and len(node.args) == 3:
            self.visit(node.args[2])
        if name in ("all", "none", "any", "one"):
            return BOOL
        if name in ("count", "findIndex", "findLastIndex"):
            return INT
        if name == "filter":
            return Nature("array", elem)
        if name == "map":
            return Nature("array", out)
        if name in ("find", "findLast"):
            return elem
        if name == "sum":
            return out if len(node.args) == 2 else elem
        if name == "groupBy":
            return Nature("anymap", ARRAY)
        if name == "sortBy":
            return collection
        return out

    def v_Predicate(self, node: ast.Predicate) -> Nature:
        return self.visit(node.node)

    def v_Let(self, node: ast.Let) -> Nature:
        if node.name in self.env:
            raise self.fail(node, f"cannot redeclare {node.name}")
        if node.name in BUILTINS or node.name in PREDICATE_BUILTINS:
            raise self.fail(node, f"cannot redeclare builtin {node.name}")
        if any(name == node.name for name, _ in self.lets):
            raise self.fail(node, f"cannot redeclare variable {node.name}")
        value = self.visit(node.value)
        self.lets.append((node.name, value))
        try:
            return self.visit(node.body)
        finally:
            self.lets.pop()

    def v_Sequence(self, node: ast.Sequence) -> Nature:
        last = UNKNOWN
        for child in node.nodes:
            last = self.visit(child)
        return last

    def v_Cond(self, node: ast.Cond) -> Nature:
        cond = self.visit(node.cond)
        if cond.kind != "bool" and not cond.unknown:
            raise self.fail(node.cond, f"non-bool expression (type {cond}) used as condition")
        yes, no = self.visit(node.yes), self.visit(node.no)
        if yes.kind == "nil":
            return no
        if no.kind == "nil":
            return yes
        return yes if _assignable(yes, no) else UNKNOWN

    def v_Array(self, node: ast.Array) -> Nature:
        natures = [self.visit(item) for item in node.items]
        if natures and all(n.kind == natures[0].kind for n in natures):
            return Nature("array", natures[-1])
        return Nature("array", UNKNOWN)

    def v_Map(self, node: ast.Map) -> Nature:
        for key, value in node.pairs:
            self.visit(key)
            self.visit(value)
        return MAP


_STRING_FIRST = {
    "trim",
    "trimPrefix",
    "trimSuffix",
    "upper",
    "lower",
    "split",
    "splitAfter",
    "replace",
    "repeat",
    "indexOf",
    "lastIndexOf",
    "hasPrefix",
    "hasSuffix",
    "fromJSON",
    "toBase64",
    "fromBase64",
    "duration",
    "timezone",
}
_BOOL_PREDICATES = {
    "all",
    "none",
    "any",
    "one",
    "filter",
    "count",
    "find",
    "findIndex",
    "findLast",
    "findLastIndex",
}


def _has_method(kind: str, name: str) -> bool:
    from datetime import datetime as _dt

    sample: Any = Duration(0) if kind == "duration" else _dt(2000, 1, 1)
    return time_method(sample, name) is not None


def check(tree: ast.Node, env: Mapping[str, Any]) -> Nature:
    """Raise CheckFailure where expr's checker would reject the program in this env."""
    return _Checker(env).visit(tree)


def free_names(tree: ast.Node) -> tuple[str, ...]:
    """Top-level names the program reads from its environment (what the check depends on)."""
    names: list[str] = []
    seen: set[str] = set()
    stack: list[tuple[ast.Node, frozenset[str]]] = [(tree, frozenset())]
    while stack:
        node, bound = stack.pop()
        if isinstance(node, ast.Ident) and node.name not in bound and node.name not in seen:
            seen.add(node.name)
            names.append(node.name)
        if (
            isinstance(node, ast.Member)
            and isinstance(node.node, ast.Ident)
            and node.node.name == "$env"
            and isinstance(node.prop, ast.Const)
            and str(node.prop.value) not in seen
        ):
            seen.add(str(node.prop.value))
            names.append(str(node.prop.value))
        if isinstance(node, ast.Let):
            stack.append((node.value, bound))
            stack.append((node.body, bound | {node.name}))
            continue
        stack.extend((child, bound) for child in ast.children(node))
    return tuple(names)
