"""Trajectories read the right way round (issue 9, item 3), property-tested with hypothesis.

A licence of two versions is generated where the second differs from the first only by
moving terms one way:

* looser: a scaled term (``SCALES`` in model/vocabulary.py: commercial use, weights access,
  revocation, the output ban's scope, the regime above a user threshold) moved down its
  scale, a user threshold raised (same metric), or a restriction removed (a user threshold,
  an output ban, the research-only limit, every territorial or field-of-use exclusion).
  Then no current flag comes from a rule tagged ``narrowing`` and at least one from a rule
  tagged ``widening``;
* stricter, the mirror: a scaled term moved up, a threshold lowered, or a restriction added
  (a threshold, an output ban, the research-only limit, a territory or field of use). Then
  at least one current flag comes from a ``narrowing`` rule and none from a ``widening`` one.

Beyond "some rule of the family fires", every term that moved must be reported: some flag of
the right family has it as its operative term (``Flag.operative``), so a pack that reports
one move and misses another fails.

Every other term is drawn at random (tests/strategies.py) and is the same in both versions.
The terms that move are given known values (a trajectory between unknowns proves nothing);
commercial use is always known, since the research-only rules compare it to tell a changed
research-only limit from a change of commercial use.

Bounded: the rule pack is loaded and compiled once for the module; each property runs a
fixed number of examples with no deadline (a few seconds on two cores).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import strategies as S
from policycheck.evaluate import assess
from policycheck.load.rules import RulePack, load_rules
from policycheck.model.vocabulary import SCALES

PACK = load_rules()
EXAMPLES = 60

Terms = dict[str, Any]
Edit = tuple[str, Terms, Terms]        # (what moved, changes to version 1, changes to version 2)

# Where each scaled licence_version fact field sits in a version's terms.
_TOP_SCALED = ("commercial_use", "weights_access", "revocation")
METRICS = ("monthly_active_users", "annual_revenue_usd", "users", "employees")
LIMITS = (1000000, 100000000, 700000000)
PLACES = ("UK", "EU", "US")
FIELDS = ("medical advice", "legal advice", "credit scoring")


def tagged(pack: RulePack, tag: str) -> set[str]:
    return {r.id for r in pack.rules if tag in r.rule.tags}


def _ranks(draw: st.DrawFn, scale: tuple[str, ...], looser: bool) -> tuple[str, str]:
    """Two values of ``scale``: the second looser (lower rank) or stricter than the first."""
    i, j = draw(st.lists(st.integers(0, len(scale) - 1), min_size=2, max_size=2, unique=True).map(sorted))
    return (scale[j], scale[i]) if looser else (scale[i], scale[j])


def _threshold(metric: str, limit: int, above: str) -> dict[str, Any]:
    return {"metric": metric, "limit": limit, "above": above}


@st.composite
def edit(draw: st.DrawFn, kind: str, looser: bool) -> Edit:
    """One term moved looser (or stricter): the values it takes in version 1 and version 2."""
    if kind in _TOP_SCALED:
        a, b = _ranks(draw, SCALES[kind], looser)
        return kind, {kind: a}, {kind: b}
    if kind == "output_ban_scope":
        a, b = _ranks(draw, SCALES[kind], looser)
        return kind, {"output_training_ban": {"scope": a}}, {"output_training_ban": {"scope": b}}
    if kind == "threshold_above":
        a, b = _ranks(draw, SCALES[kind], looser)
        metric, limit = draw(st.sampled_from(METRICS)), draw(st.sampled_from(LIMITS))
        return kind, {"user_threshold": _threshold(metric, limit, a)}, {"user_threshold": _threshold(metric, limit, b)}
    if kind == "threshold_limit":
        low, high = draw(st.lists(st.sampled_from(LIMITS), min_size=2, max_size=2, unique=True).map(sorted))
        metric, above = draw(st.sampled_from(METRICS)), draw(st.sampled_from(SCALES["threshold_above"]))
        one, two = (low, high) if looser else (high, low)
        return kind, {"user_threshold": _threshold(metric, one, above)}, {"user_threshold": _threshold(metric, two, above)}
    # a restriction removed (looser) or added (stricter)
    if kind == "user_threshold":
        present: Any = _threshold(draw(st.sampled_from(METRICS)), draw(st.sampled_from(LIMITS)),
                                  draw(st.sampled_from(SCALES["threshold_above"])))
        absent: Any = "none"
    elif kind == "output_training_ban":
        present, absent = {"scope": draw(st.sampled_from(SCALES["output_ban_scope"]))}, "none"
    elif kind == "research_only":
        present, absent = True, False
    elif kind in ("geographic_restrictions", "field_of_use_restrictions"):
        pool = PLACES if kind == "geographic_restrictions" else FIELDS
        items = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True))
        if looser:   # every exclusion removed (dropping only some is not recorded as a widening)
            return kind, {kind: items}, {kind: []}
        kept = items[: draw(st.integers(0, len(items) - 1))]   # some item is new in version 2
        return kind, {kind: kept}, {kind: items}
    else:
        raise AssertionError(kind)
    return (kind, {kind: present}, {kind: absent}) if looser else (kind, {kind: absent}, {kind: present})


KINDS = (*_TOP_SCALED, "output_ban_scope", "threshold_above", "threshold_limit", "user_threshold",
         "output_training_ban", "research_only", "geographic_restrictions", "field_of_use_restrictions")
# Edits that set the same case field cannot be combined in one pair.
_FIELD = {"output_ban_scope": "output_training_ban", "threshold_above": "user_threshold",
          "threshold_limit": "user_threshold"}


@st.composite
def version_pair(draw: st.DrawFn, looser: bool) -> tuple[Terms, Terms, list[str]]:
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=4, unique_by=lambda k: _FIELD.get(k, k)))
    base = draw(S.terms())
    base.setdefault("commercial_use", draw(st.sampled_from(SCALES["commercial_use"])))
    if base["commercial_use"] == S.UNKNOWN:
        base["commercial_use"] = draw(st.sampled_from(SCALES["commercial_use"]))
    first, second = copy.deepcopy(base), copy.deepcopy(base)
    for kind in kinds:
        _, one, two = draw(edit(kind, looser))
        first.update(one)
        second.update(two)
    return first, second, kinds


def _case(first: Terms, second: Terms) -> dict[str, Any]:
    return {"schema_version": 2, "id": "trajectory", "title": "Trajectory", "kind": ["licence"],
            "as_of": "2024-06-01", "summary": "A licence whose second version moves its terms one way.",
            "sources": [{"id": "s", "title": "s", "date": "unknown", "kind": "primary"}],
            "parties": [{"id": "acme", "name": "Acme"}],
            "licences": [{"id": "lic", "name": "Lic", "kind": "model_licence", "licensor": "acme", "versions": [
                {"version": "1", "date": "2023-01-01", "terms": first},
                {"version": "2", "date": "2024-01-01", "terms": second}]}]}


def current_flags(pack: RulePack, first: Terms, second: Terms) -> dict[str, set[str]]:
    """The current flags (history flags do not count) on the pair: rule id -> the case paths
    of their operative terms."""
    result = assess([S.load(_case(first, second))], pack).cases[0]
    out: dict[str, set[str]] = {}
    for f in result.flags:
        out.setdefault(f.rule, set()).add(f.operative.path if f.operative else "")
    return out


def unreported(kinds: list[str], flags: dict[str, set[str]], family: set[str]) -> list[str]:
    """The moved terms no flag of ``family`` points at (its operative term is the moved term,
    or lies inside it). A research-only limit that moved with commercial use is reported by
    the commercial-use flag (the research-only rules stand aside then, so it is flagged once)."""
    paths = {p for rule, ps in flags.items() if rule in family for p in ps}

    def reported(field: str) -> bool:
        return any(p.endswith(f".terms.{field}") or f".terms.{field}." in p for p in paths)

    missing = [k for k in kinds if not reported(_FIELD.get(k, k))]
    if "research_only" in missing and "commercial_use" in kinds and reported("commercial_use"):
        missing.remove("research_only")
    return missing


NARROWING, WIDENING = tagged(PACK, "narrowing"), tagged(PACK, "widening")


@settings(max_examples=EXAMPLES, deadline=None)
@given(pair=version_pair(looser=True))
def test_a_widening_pair_fires_a_widening_rule_and_no_narrowing_rule(pair: tuple[Terms, Terms, list[str]]) -> None:
    first, second, kinds = pair
    flags = current_flags(PACK, first, second)
    assert not set(flags) & NARROWING, (kinds, sorted(set(flags) & NARROWING))
    assert set(flags) & WIDENING, (kinds, first, second)
    assert not unreported(kinds, flags, WIDENING), (unreported(kinds, flags, WIDENING), first, second)


@settings(max_examples=EXAMPLES, deadline=None)
@given(pair=version_pair(looser=False))
def test_a_narrowing_pair_fires_a_narrowing_rule_and_no_widening_rule(pair: tuple[Terms, Terms, list[str]]) -> None:
    first, second, kinds = pair
    flags = current_flags(PACK, first, second)
    assert not set(flags) & WIDENING, (kinds, sorted(set(flags) & WIDENING))
    assert set(flags) & NARROWING, (kinds, first, second)
    assert not unreported(kinds, flags, NARROWING), (unreported(kinds, flags, NARROWING), first, second)


# --- the properties can fail --------------------------------------------------------------------

def test_the_pack_has_both_families() -> None:
    assert len(NARROWING) >= 10 and len(WIDENING) >= 8
    assert not NARROWING & WIDENING
    assert all(PACK.by_id()[r].rule.severity == "info" for r in WIDENING)
    # A widening between versions of one licence is in licence-widening; one across a
    # developer's models and their licences (the family view, rule pack v2) in model-family,
    # tagged so.
    by_family = {r: PACK.by_id()[r].family for r in WIDENING}
    assert set(by_family.values()) == {"licence-widening", "model-family"}
    assert {r for r, f in by_family.items() if f == "model-family"} == WIDENING & tagged(PACK, "model-family")


def _one_rule_pack(tmp_path: Path, rule: dict[str, Any]) -> RulePack:
    folder = tmp_path / "rules" / "licence-timeline"
    folder.mkdir(parents=True)
    (folder / f"{rule['id']}.yaml").write_text(yaml.safe_dump(rule), encoding="utf-8")
    return load_rules([tmp_path / "rules"], bundled=False)


def _wrong_way_round(tag: str, op: str) -> dict[str, Any]:
    return {"id": f"wrong-way-{tag}", "title": "Wrong way round", "conditions": ["OTC"], "severity": "info",
            "citation": {"source": "test", "section": "§0"}, "rationale": "r", "message": "m", "mitigation": "m",
            "tags": [tag],
            "when": {"all": [{"fact": "licence_version", "as": "prev"},
                             {"fact": "licence_version", "as": "cur", "where": {
                                 "previous": {"ref": "prev.id"}, "commercial_use": {op: {"ref": "prev.commercial_use"}}}}]}}


def test_a_narrowing_rule_that_fires_on_a_widening_is_caught(tmp_path: Path) -> None:
    pack = _one_rule_pack(tmp_path, _wrong_way_round("narrowing", "looser"))
    fired = current_flags(pack, {"commercial_use": "prohibited"}, {"commercial_use": "allowed"})
    assert set(fired) & tagged(pack, "narrowing")


def test_a_widening_rule_that_fires_on_a_narrowing_is_caught(tmp_path: Path) -> None:
    pack = _one_rule_pack(tmp_path, _wrong_way_round("widening", "stricter"))
    fired = current_flags(pack, {"commercial_use": "allowed"}, {"commercial_use": "prohibited"})
    assert set(fired) & tagged(pack, "widening")


def test_a_moved_term_no_rule_reports_is_caught() -> None:
    """Every moved term must be pointed at: a pack without the territory rules leaves an added
    territory unreported even though another narrowing (commercial use) fires."""
    without = RulePack(tuple(r for r in PACK.rules if r.id not in ("territories-added", "new-geographic-exclusion")),
                       PACK.digest + "-without-territory-rules")
    kinds = ["commercial_use", "geographic_restrictions"]
    flags = current_flags(without, {"commercial_use": "allowed", "geographic_restrictions": ["EU"]},
                          {"commercial_use": "prohibited", "geographic_restrictions": ["EU", "UK"]})
    assert unreported(kinds, flags, tagged(without, "narrowing")) == ["geographic_restrictions"]
    assert unreported(kinds, current_flags(PACK, {"commercial_use": "allowed", "geographic_restrictions": ["EU"]},
                                           {"commercial_use": "prohibited", "geographic_restrictions": ["EU", "UK"]}),
                      NARROWING) == []


def test_every_move_of_the_generator_changes_the_version() -> None:
    """An edit that left both versions alike would let the properties pass on nothing."""
    @settings(max_examples=EXAMPLES, deadline=None)
    @given(kind=st.sampled_from(KINDS), looser=st.booleans(), data=st.data())
    def check(kind: str, looser: bool, data: st.DataObject) -> None:
        _, one, two = data.draw(edit(kind, looser))
        assert one != two
    check()
