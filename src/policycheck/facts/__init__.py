"""The facts stage: a case flattened into typed facts at one instant (``build``), and when
each dated thing is in force (``timeline``)."""

from policycheck.facts.build import Fact, flatten, spans
from policycheck.facts.timeline import Span, day, instants

__all__ = ["Fact", "Span", "day", "flatten", "instants", "spans"]
