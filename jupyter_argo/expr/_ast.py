"""The syntax tree of an expr-lang program (the node kinds of expr's `ast` package)."""

from __future__ import annotations

from typing import Any

__all__ = [
    "Array",
    "Binary",
    "Builtin",
    "Call",
    "Chain",
    "Cond",
    "Const",
    "Ident",
    "Let",
    "Map",
    "Member",
    "Nil",
    "Node",
    "Pointer",
    "Predicate",
    "Sequence",
    "Slice",
    "Unary",
    "children",
]


class Node:
    """A node; `pos` is the rune offset of its token in the source."""

    __slots__ = ("pos",)

    def __init__(self, pos: int) -> None:
        self.pos = pos


class Nil(Node):
    __slots__ = ()


class Const(Node):
    """A bool, int, float, string or bytes literal."""

    __slots__ = ("value",)

    def __init__(self, pos: int, value: Any) -> None:
        super().__init__(pos)
        self.value = value


class Ident(Node):
    __slots__ = ("name",)

    def __init__(self, pos: int, name: str) -> None:
        super().__init__(pos)
        self.name = name


class Pointer(Node):
    """`#` (name ""), `#index`, `#acc`, or the implicit `#` of `.field` in a predicate."""

    __slots__ = ("name",)

    def __init__(self, pos: int, name: str) -> None:
        super().__init__(pos)
        self.name = name


class Unary(Node):
    __slots__ = ("node", "op")

    def __init__(self, pos: int, op: str, node: Node) -> None:
        super().__init__(pos)
        self.op = op
        self.node = node


class Binary(Node):
    __slots__ = ("left", "op", "right")

    def __init__(self, pos: int, op: str, left: Node, right: Node) -> None:
        super().__init__(pos)
        self.op = op
        self.left = left
        self.right = right


class Chain(Node):
    """The extent of an optional chain: a nil met by `?.` inside makes the whole chain nil."""

    __slots__ = ("node",)

    def __init__(self, pos: int, node: Node) -> None:
        super().__init__(pos)
        self.node = node


class Member(Node):
    """`node.prop`, `node[prop]`, `node?.prop`; `method` when it is called."""

    __slots__ = ("method", "node", "optional", "prop")

    def __init__(self, pos: int, node: Node, prop: Node, optional: bool) -> None:
        super().__init__(pos)
        self.node = node
        self.prop = prop
        self.optional = optional
        self.method = False


class Slice(Node):
    __slots__ = ("high", "low", "node")

    def __init__(self, pos: int, node: Node, low: Node | None, high: Node | None) -> None:
        super().__init__(pos)
        self.node = node
        self.low = low
        self.high = high


class Call(Node):
    __slots__ = ("args", "callee")

    def __init__(self, pos: int, callee: Node, args: list[Node]) -> None:
        super().__init__(pos)
        self.callee = callee
        self.args = args


class Builtin(Node):
    __slots__ = ("args", "name")

    def __init__(self, pos: int, name: str, args: list[Node]) -> None:
        super().__init__(pos)
        self.name = name
        self.args = args


class Predicate(Node):
    __slots__ = ("node",)

    def __init__(self, pos: int, node: Node) -> None:
        super().__init__(pos)
        self.node = node


class Let(Node):
    __slots__ = ("body", "name", "value")

    def __init__(self, pos: int, name: str, value: Node, body: Node) -> None:
        super().__init__(pos)
        self.name = name
        self.value = value
        self.body = body


class Sequence(Node):
    __slots__ = ("nodes",)

    def __init__(self, pos: int, nodes: list[Node]) -> None:
        super().__init__(pos)
        self.nodes = nodes


class Cond(Node):
    __slots__ = ("cond", "no", "yes")

    def __init__(self, pos: int, cond: Node, yes: Node, no: Node) -> None:
        super().__init__(pos)
        self.cond = cond
        self.yes = yes
        self.no = no


class Array(Node):
    __slots__ = ("items",)

    def __init__(self, pos: int, items: list[Node]) -> None:
        super().__init__(pos)
        self.items = items


class Map(Node):
    __slots__ = ("pairs",)

    def __init__(self, pos: int, pairs: list[tuple[Node, Node]]) -> None:
        super().__init__(pos)
        self.pairs = pairs


def children(node: Node) -> list[Node]:
    """The direct children of a node, in evaluation order."""
    if isinstance(node, Unary | Chain | Predicate):
        return [node.node]
    if isinstance(node, Binary):
        return [node.left, node.right]
    if isinstance(node, Member):
        return [node.node, node.prop]
    if isinstance(node, Slice):
        return [n for n in (node.node, node.low, node.high) if n is not None]
    if isinstance(node, Call):
        return [node.callee, *node.args]
    if isinstance(node, Builtin):
        return list(node.args)
    if isinstance(node, Let):
        return [node.value, node.body]
    if isinstance(node, Sequence):
        return list(node.nodes)
    if isinstance(node, Cond):
        return [node.cond, node.yes, node.no]
    if isinstance(node, Array):
        return list(node.items)
    if isinstance(node, Map):
        return [n for pair in node.pairs for n in pair]
    return []
