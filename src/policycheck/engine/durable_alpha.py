"""durable_rules' alpha network, modelled in plain Python to bound its per-fact stack (error 303).

durable_rules 2.0.28 (``rete.c`` ``createAlpha``/``findAlpha``/``linkAlpha``, ``events.c``
``handleAlpha``/``isArrayMatch``) compiles every pattern of every rule of one C ruleset into one
shared tree of alpha nodes under a root. Asserting a fact walks that tree depth first with a
fixed stack of ``MAX_STACK_SIZE`` = 64 node pointers: a popped node pushes each child the fact
may pass (a child whose test holds; a ``$nex`` child whose field the fact lacks; a join child
unconditionally), and the 65th push is error 303 ("ERR_MAX_STACK_SIZE") - for the whole
ruleset, at assess time. What the model mirrors, each checked against the C core in
tests/test_hostile_engine.py:

* a literal test (field, operator, JSON type, value) under the same parent is shared by every
  pattern that makes it (``findAlpha``), so identical filters cost one node;
* a join to another pattern (``{"key": {"d": "partner"}}``), a same-fact reference and an
  arithmetic expression are never shared: ``findAlpha`` compares their string-pool offsets,
  which are new for every pattern - 65 rules with the same join in one ruleset are error 303;
  and a join child is pushed without a test (its value lives in another fact);
* every ``$or`` gets a new, never shared ``$forward`` node, linked below each alternative
  (as a ``$nex`` on a field no fact has, it is pushed once for each alternative that holds);
* ``$iany``/``$iall`` nodes are never shared; a fact's array is walked by ``isArrayMatch``
  with a stack of its own (64 again), from the array node, per item.

The bound for one fact type: ``depth(node)`` is at most ``(k - 1) + max(depth(child))`` over
the ``k`` children the fact may push (the last child pushed is walked with the other ``k - 1``
still on the stack), where equality tests of one field with values that cannot be equal at
once count as one child. It holds whatever the fact's values, in any push order.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from policycheck.engine.durable_json import is_map

STACK = 64            # events.c MAX_STACK_SIZE: the 65th push is error 303
_ARRAY_OPS = ("$iany", "$iall")
_OPS = ("$eq", "$neq", "$lt", "$lte", "$gt", "$gte", "$ex", "$nex", "$mt", "$imt")
_FORWARD = "$forward"


class _Node:
    """One alpha node: its test and the nodes it may push."""

    __slots__ = ("field", "op", "key", "children", "memo", "cls", "always", "item")

    def __init__(self, field: str, op: str, key: tuple[Any, ...] | None) -> None:
        self.field = field          # the fact property it reads ("$forward" for an $or's join point)
        self.op = op                # "$eq", "$nex", "$iany", ... ; "$forward"; "root"
        self.key = key              # what findAlpha compares (None: never shared)
        self.children: list[_Node] = []
        self.memo: dict[str, int] = {}
        # an equality with a literal: its class (equalities of one field in different classes
        # exclude each other); None for any other test
        self.cls = _class(key) if op == "$eq" and key is not None else None
        self.always = op in ("$nex", _FORWARD)   # pushed whenever its field is absent: always, for $forward
        self.item = field.startswith("$i")       # reads an array item, not the fact

    def find(self, field: str, op: str, key: tuple[Any, ...] | None) -> _Node:
        if key is not None:
            for child in self.children:
                if child.key == key and child.field == field and child.op == op:
                    return child
        node = _Node(field, op, key)
        self.children.append(node)
        return node


def _literal_key(value: Any) -> tuple[Any, ...] | None:
    """What findAlpha compares for a literal (its JSON type and value); None for a reference."""
    if is_map(value):
        return None  # a join, $m / $s reference or arithmetic: new string offsets every time
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, float):
        return ("double", value)
    if isinstance(value, str):
        return ("string", value)
    return ("other", json.dumps(value, sort_keys=True, default=str))


def _class(key: tuple[Any, ...] | None) -> Any:
    """Equality literals of one field in one class may all hold for one fact value (durable
    coerces: ``"10" == 10``, ``true == 1``); literals in different classes exclude each other."""
    if key is None:
        return None
    kind, value = key[0], key[1]
    if kind == "bool":
        return float(value)
    if kind in ("int", "double"):
        return float(value)
    if kind == "string":
        text = str(value).strip().lower()
        if text in ("true", "false"):
            return 1.0 if text == "true" else 0.0
        try:
            return float(text)
        except ValueError:
            return ("s", value)
    return key


class AlphaNet:
    """The alpha tree durable builds for a set of patterns, and the stack bound per fact type."""

    def __init__(self) -> None:
        self.root = _Node("", "root", None)
        self._dirty: list[_Node] = []

    def add(self, expression: Mapping[str, Any]) -> None:
        """One pattern, as registered (the adapter's canonical JSON form)."""
        self._dirty = [self.root]
        self._create(expression, self.root)
        for node in self._dirty:
            node.memo.clear()

    def _touch(self, node: _Node) -> _Node:
        self._dirty.append(node)
        return node

    def _create(self, expression: Any, parent: _Node) -> _Node:
        """``createAlpha``: the node a pattern's next test hangs under."""
        if not is_map(expression) or not expression:
            return parent
        key, value = next(iter(expression.items()))
        if key == "$and" and isinstance(value, list):
            node = parent
            for item in value:
                node = self._create(item, node)
            return node
        if key == "$or" and isinstance(value, list):
            forward = _Node(_FORWARD, _FORWARD, None)
            for item in value:
                self._touch(self._create(item, parent)).children.append(forward)
            return forward
        if key in _ARRAY_OPS and is_map(value) and value:
            field, inner = next(iter(value.items()))
            array = self._touch(parent).find(str(field), key, None)
            self._create(inner, self._touch(array))
            return array
        op = key if key in _OPS else "$eq"
        test = value if op != "$eq" or key == "$eq" else {key: value}
        if not is_map(test) or not test:
            return parent
        field, operand = next(iter(test.items()))
        return self._touch(self._touch(parent).find(str(field), op, _literal_key(operand)))

    def depth(self, fact_type: str | None) -> int:
        """The most stack slots a fact of ``fact_type`` (None: a type no pattern names) can use."""
        typed = [c for c in self.root.children if c.field == "t" and c.op == "$eq" and c.key is not None]
        wanted = [c for c in typed if fact_type is not None and _class(c.key) == _class(("string", fact_type))]
        others = [c for c in self.root.children if c not in typed]
        return _bound(wanted + others, "fact", exclusive=False)

    def array_depth(self) -> int:
        """The most stack slots ``isArrayMatch`` can use on one item, over every array node."""
        worst = 0
        seen: set[int] = set()
        stack = [self.root]
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if node.op in _ARRAY_OPS:
                worst = max(worst, _depth(node, "item"))
            stack.extend(node.children)
        return worst

    def types(self) -> set[str]:
        return {c.key[1] for c in self.root.children if c.field == "t" and c.op == "$eq" and c.key is not None
                and c.key[0] == "string"}


def _pushable(node: _Node, context: str) -> list[_Node]:
    """The children a popped node may push for a fact (``context`` "fact") or an array item ("item")."""
    if context == "fact":   # a test that may hold, a join (always pushed), an array node; never an item test
        return [c for c in node.children if c.always or not c.item]
    # an item: its own tests; nested arrays are walked by a recursive call, not pushed
    return [c for c in node.children if c.always or (c.item and c.op not in _ARRAY_OPS)]


def _bound(children: list[_Node], context: str, exclusive: bool = True) -> int:
    """``(k - 1) + max depth`` over the children one fact can push at once."""
    if not children:
        return 1
    groups: dict[str, dict[Any, int]] = {}
    free = 0
    for child in children:
        if exclusive and child.cls is not None:
            by_class = groups.setdefault(child.field, {})
            by_class[child.cls] = by_class.get(child.cls, 0) + 1
        else:
            free += 1
    count = free + sum(max(by_class.values()) for by_class in groups.values())
    return count - 1 + max(_depth(c, context) for c in children)


def _depth(node: _Node, context: str) -> int:
    """``node``'s bound, its descendants' computed first without recursion (chains of an
    ``$and`` of hundreds of tests are as deep as they are long)."""
    if context in node.memo:
        return node.memo[context]
    stack: list[tuple[_Node, bool]] = [(node, False)]
    while stack:
        current, expanded = stack.pop()
        if context in current.memo:
            continue
        pushed = _pushable(current, context)
        if not expanded:
            stack.append((current, True))
            stack.extend((c, False) for c in pushed if context not in c.memo)
            continue
        current.memo[context] = _bound(pushed, context) if pushed else 1
    return node.memo[context]
