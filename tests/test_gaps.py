"""Gap rules (compile/gaps.py): a link with an unknown or unstated side leaves the rule not
assessed there, instead of the combination silently dropping out (issue 9: nothing omitted
reads as false). End to end, the conformance entries of tests/conformance/trajectories.yaml
(``a-left-out-licence-...``, ``an-undated-model-leaves-a-joined-family-rule-...``) run both
the engine and the reference evaluator; here, the compiled form."""

from __future__ import annotations

from policycheck.compile.compiler import compile_rule
from policycheck.compile.ir import Missing, Ref
from policycheck.load.rules import load_rules

PACK = {lr.rule.id: lr for lr in load_rules().rules}


def _gaps(rule_id: str) -> list[tuple[tuple[str, str], ...]]:
    return [missing for alt in compile_rule(PACK[rule_id].spec).alternatives for _, missing in alt.gaps]


def test_every_way_of_leaving_the_family_links_undecided_is_one_gap_rule() -> None:
    """Three links may be undecided (later's predecessor; each model's licence version): 2^3 - 1
    ways, each naming what it lacks."""
    gaps = _gaps("family-commercial-use-narrowed")
    assert len(gaps) == 7
    assert set(gaps) == {
        (("later", "previous_model"),), (("earlier", "licence_version"),), (("later", "licence_version"),),
        (("earlier", "licence_version"), ("later", "previous_model")),
        (("later", "licence_version"), ("later", "previous_model")),
        (("earlier", "licence_version"), ("later", "licence_version")),
        (("earlier", "licence_version"), ("later", "licence_version"), ("later", "previous_model")),
    }


def test_a_gap_rule_drops_the_link_and_asks_for_the_missing_side() -> None:
    alt = compile_rule(PACK["family-commercial-use-narrowed"].spec).alternatives[0]
    rule, missing = next((r, m) for r, m in alt.gaps if m == (("later", "licence_version"),))
    by_alias = {p.alias: p for p in rule.patterns}
    assert Missing("licence_version") in by_alias["later"].tests
    assert not [t for t in by_alias["later_terms"].tests if isinstance(t, Ref) and t.alias == "later"]
    # the other links still hold: later follows earlier, earlier_terms is earlier's licence
    assert [t for t in by_alias["later"].tests if isinstance(t, Ref) and t.field == "previous_model"]
    assert [t for t in by_alias["earlier_terms"].tests if isinstance(t, Ref) and t.alias == "earlier"]
    assert len(rule.patterns) == len(alt.present.patterns)


def test_links_on_required_or_decided_fields_get_no_gap_rules() -> None:
    """A deal's partner and developer are required; a licence version's ``previous`` is decided
    (absent for the first, never unknown): nothing to add for the deal and timeline rules."""
    assert _gaps("investor-with-leading-position") == []
    timeline = [lr.rule.id for lr in PACK.values() if "licence-timeline" in str(lr.file)]
    assert timeline and all(_gaps(r) == [] for r in timeline)
    assert _gaps("data-licence-to-leading-firm") == [(("v", "licensee"),)]
