"""durable_rules' rule dialect as Python values: a pattern is an alias and a JSON expression.

Plain data, importable without durable_rules (``engine.durable`` registers these).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EnginePattern:
    alias: str
    expression: dict[str, Any]
    negated: bool = False


@dataclass(frozen=True)
class EngineRule:
    name: str
    patterns: tuple[EnginePattern, ...]
