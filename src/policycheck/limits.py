"""How much work one input may cause: limits with defaults, checked with a clear, located error.

Case files, waivers, baselines and configuration come from people the reviewer does not
control (docs/security.md). Everything the tool does per case grows with the case, and the
engine evaluates a case once per *date* on which something in it starts or ends (see
``facts.timeline``), so both the size of a case and the number of its dates are bounded. Rule
packs are semi-trusted: their ``in:`` lists and ``any_of`` branches are bounded too, because
the rules engine hangs or fails on wide ones (docs/engine.md).

Each limit can be changed in the configuration's ``limits:`` mapping (``[tool.policycheck.limits]``
in pyproject.toml)::

    limits:
      versions: 200        # versions per licence
      evaluations: 6000    # facts evaluated over all the dates of one case

A value is a positive integer; an unknown name is an error. The CLI applies the configured
limits for the whole run (``use``); library callers may pass ``Limits`` or call ``use``.

========================  =======  =====================================================
key                       default  what it bounds
========================  =======  =====================================================
``file_bytes``            2000000  bytes of a case, rule, fixture, waiver or config file
``report_bytes``         32000000  bytes of one record of a file the tool wrote and reads back
                                   (one case of an assessment JSON, one line of JSON Lines, one
                                   baseline entry, or the rest of the document); the files
                                   themselves are streamed and have no size limit
``files``                   20000  files (and folders) visited under one folder given to walk
``facts``                     400  facts in one case (parties, models, licence versions, deals,
                                   data-access changes, and the case itself)
``versions``                  100  versions of one licence
``parties``                   200  parties of one case
``deals``                     100  deals of one case
``list_items``                200  items of any other list in a case file (restrictions,
                                   markets, sources, clauses, ...)
``dates``                      60  dates on which the engine evaluates one case (the days on
                                   which something starts or ends, and the assessment date)
``evaluations``              1000  facts evaluated over all those dates together (the sum, over
                                   the dates, of the facts present on each): the engine's work
``in_values``                 256  values of one ``in`` / ``not_in`` / ``contains_any`` /
                                   ``contains_all`` list in a rule (at most 480: the engine
                                   hangs at 512 sibling tests)
``any_of``                     32  branches of one ``any_of`` in a rule (at most 48; whatever
                                   the limits, a rule that lets one fact push more than 64
                                   engine nodes at once, error 303, is refused when it loads)
========================  =======  =====================================================

``benchmarks/limits.py`` assesses a generated case at each default limit with the bundled
rule pack, in a fresh process, against the target of the whole command in under 2 s and
200 MB, and reports the time above the floor (the same command on the smallest case). The
table above and ``Limits`` below must agree.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# What the engine can do at all: a configuration cannot raise a limit past these.
ENGINE_MAX = {"in_values": 480, "any_of": 48}


@dataclass(frozen=True)
class Limits:
    file_bytes: int = 2_000_000
    report_bytes: int = 32_000_000
    files: int = 20_000
    facts: int = 400
    versions: int = 100
    parties: int = 200
    deals: int = 100
    list_items: int = 200
    dates: int = 60
    evaluations: int = 1_000
    in_values: int = 256
    any_of: int = 32

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    def replace(self, **changes: int) -> Limits:
        return dataclasses.replace(self, **changes)


DEFAULT = Limits()
_current: Limits = DEFAULT


def problems(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key, why) for every bad entry of a ``limits:`` mapping (empty when all are good)."""
    out: list[tuple[str, str]] = []
    names = Limits.names()
    for key, value in values.items():
        if key not in names:
            out.append((str(key), f"unknown limit; the limits are: {', '.join(names)}"))
        elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
            out.append((key, "a limit is a positive whole number"))
        elif key in ENGINE_MAX and value > ENGINE_MAX[key]:
            out.append((key, f"the engine cannot run more than {ENGINE_MAX[key]} (the rules engine; see docs/engine.md)"))
    return out


def from_mapping(values: Mapping[str, Any]) -> Limits:
    """The defaults with ``values`` applied; raises ValueError on the first bad entry."""
    bad = problems(values)
    if bad:
        key, why = bad[0]
        raise ValueError(f"limits.{key}: {why}")
    return DEFAULT.replace(**{k: int(v) for k, v in values.items()})


def current() -> Limits:
    """The limits in effect (the defaults unless ``use`` set others)."""
    return _current


def use(limits: Limits | None) -> None:
    """Make ``limits`` (None: the defaults) the limits in effect for this process."""
    global _current
    _current = limits or DEFAULT


@contextlib.contextmanager
def using(limits: Limits) -> Iterator[Limits]:
    """``use(limits)`` for the duration of a ``with`` block."""
    before = current()
    use(limits)
    try:
        yield limits
    finally:
        use(before)


def hint(key: str) -> str:
    """How to raise one limit, for error messages."""
    return f"the limit is {getattr(current(), key):,}; set limits.{key} in the configuration to change it"


__all__ = ["DEFAULT", "ENGINE_MAX", "Limits", "current", "from_mapping", "hint", "problems", "use", "using"]
