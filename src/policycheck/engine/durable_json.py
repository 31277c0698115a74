"""durable_rules' rule dialect as Python values: a pattern is an alias and a JSON expression.

Plain data, importable without durable_rules (``engine.durable`` registers these).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard


@dataclass(frozen=True)
class EnginePattern:
    alias: str
    expression: dict[str, Any]
    negated: bool = False


@dataclass(frozen=True)
class EngineRule:
    name: str
    patterns: tuple[EnginePattern, ...]


_PLAIN = frozenset({str, int, float, bool, list, tuple, type(None)})


def is_map(value: object) -> TypeGuard[Mapping[str, Any]]:
    """``isinstance(value, Mapping)``, fast for the dicts and scalars rule expressions are made of
    (an ABC check costs about ten times a type check, and the checks walk every node)."""
    kind = type(value)
    return kind is dict or (kind not in _PLAIN and isinstance(value, Mapping))
