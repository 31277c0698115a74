"""Bounded cost (issue 12, item 3): limits with clear, located errors and config overrides, and
the steps that were quadratic made linear.

The attacks of the issue (a 1.1 MB case with 15,000 licence versions: 129 s and 3.1 GB; 20,000
parties: 18 s; a rule with ``in:`` of 512+ values: a hang; ``any_of`` of 65 branches: durable
error 303 naming no rule or case) are rebuilt here and must be refused quickly, at load time,
with one located line each. Timings are asserted loosely (the machines are shared and noisy);
benchmarks/limits.py measures a case at each limit.
"""

from __future__ import annotations

import datetime
import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from policycheck import limits
from policycheck.cli import main
from policycheck.errors import CaseLoadError, EngineError, InputError, Location, Problem, RuleLoadError
from policycheck.evaluate import assess, assess_case
from policycheck.facts import flatten, instants, spans
from policycheck.facts import build
from policycheck.facts.timeline import workload
from policycheck.io.config import Config, load_config, merge
from policycheck.load.cases import load_case, load_case_text
from policycheck.load.rules import load_rules
from policycheck.model import case as c

ROOT = Path(__file__).resolve().parents[1]
EXE = str(Path(sys.executable).with_name("policycheck"))
TEST_RULES = str(ROOT / "tests" / "data" / "rules")


def day(n: int) -> str:
    return (datetime.date(2001, 1, 1) + datetime.timedelta(days=n)).isoformat()


def case(versions: int = 1, parties: int = 1, deals: int = 0, dated: bool = True, models: int = 0,
         restrictions: int = 1) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schema_version": 2, "id": "hostile", "title": "t", "kind": ["licence", "deal"], "as_of": "2060-01-01",
        "summary": "s", "sources": [{"id": "s", "title": "s", "date": "unknown", "kind": "primary"}],
        "parties": [{"id": f"p{i}", "name": f"P{i}"} for i in range(parties)],
        "licences": [{"id": "l", "name": "L", "kind": "model_licence", "licensor": "p0", "versions": [
            {"version": f"v{j}", "date": day(j) if dated else day(0),
             "terms": {"output_training_ban": "none" if j % 2 else {"scope": "other_models"},
                       "field_of_use_restrictions": [f"x{k}" for k in range(restrictions)]}}
            for j in range(versions)]}],
    }
    if deals:
        data["deals"] = [{"id": f"d{k}", "title": "d", "date": day(0), "partner": "p0", "developer": "p0"}
                         for k in range(deals)]
    if models:
        data["models"] = [{"id": f"m{k}", "name": "m", "developer": "p0", "release_date": day(k % 50)}
                          for k in range(models)]
    return data


def refused(data: dict[str, Any], **lim: int) -> list[str]:
    with limits.using(limits.DEFAULT.replace(**lim)):
        with pytest.raises(CaseLoadError) as caught:
            load_case_text(json.dumps(data), "hostile.json")
    return caught.value.lines()


# --- each case limit: refused with a located line that says how to change it ---------------------

@pytest.mark.parametrize("data, lim, where, what", [
    (case(versions=4, dated=False), {"versions": 3}, "licences[0].versions", "4 versions of one licence"),
    (case(parties=4), {"parties": 3}, "parties", "4 parties"),
    (case(deals=4), {"deals": 3}, "deals", "4 deals"),
    (case(restrictions=4), {"list_items": 3}, "licences[0].versions[0].terms.field_of_use_restrictions",
     "a list of 4 items"),
    (case(versions=5, parties=5, dated=False), {"facts": 10}, None, "11 facts in one case"),
])
def test_each_size_limit_is_a_located_error(data: dict[str, Any], lim: dict[str, int], where: str | None,
                                            what: str) -> None:
    (key,) = lim
    (line,) = refused(data, **lim)
    assert line.startswith("hostile.json:") and what in line
    assert f"the limit is {lim[key]}; set limits.{key} in the configuration to change it" in line
    if where:
        assert f": {where}: " in line


def test_dates_and_evaluations_are_limited() -> None:
    (line,) = refused(case(versions=8), dates=8, evaluations=10_000)
    assert "9 dates on which something starts or ends" in line and "limits.dates" in line
    (line,) = refused(case(versions=8), evaluations=30)
    assert "fact evaluations over the case's dates" in line and "limits.evaluations" in line


def test_workload_bounds_what_the_evaluator_does_for_any_assessment_date() -> None:
    rng = random.Random(7)
    for _ in range(20):
        data = case(versions=rng.randint(1, 9), parties=rng.randint(1, 4), deals=rng.randint(0, 3),
                    dated=rng.random() < 0.7, models=rng.randint(0, 4))
        lc = load_case_text(json.dumps(data))
        facts, dates, evaluations = workload(lc.case)
        for as_of in ("2000-06-01", day(3), "2060-01-01"):
            moments = instants([s for *_, s in spans(lc)], as_of)
            assert len(moments) <= dates
            assert sum(len(flatten(lc, t)) for t in moments) <= evaluations
            assert all(len(flatten(lc, t)) <= facts for t in moments)
        last = instants([s for *_, s in spans(lc)], "2099-01-01")
        assert len(last) == dates and sum(len(flatten(lc, t)) for t in last) == evaluations


def test_the_issues_attacks_are_refused_fast_at_the_defaults(tmp_path: Path) -> None:
    """15,000 licence versions (1.1 MB; was 129 s and 3.1 GB) and 20,000 parties (was 18 s)."""
    big = tmp_path / "versions.json"
    big.write_text(json.dumps(case(versions=15_000)))
    parties = tmp_path / "parties.json"
    parties.write_text(json.dumps(case(parties=20_000)))
    for path, what in ((big, "15,000 versions of one licence"), (parties, "20,000 parties")):
        start = time.perf_counter()
        res = subprocess.run([EXE, "assess", str(path), "--no-config", "--no-bundled", "--rules", TEST_RULES],
                             capture_output=True, text=True, timeout=120)
        assert time.perf_counter() - start < 30
        assert res.returncode == 2 and "Traceback" not in res.stderr
        errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
        assert any(what in ln for ln in errors) and all(ln.startswith(f"error: {path}:") for ln in errors)


def test_a_case_just_under_the_limits_assesses(tmp_path: Path) -> None:
    data = case(versions=30)
    lc = load_case_text(json.dumps(data))
    assert workload(lc.case)[2] <= limits.DEFAULT.evaluations
    pack = load_rules([TEST_RULES], bundled=False)
    start = time.perf_counter()
    assess([lc], pack)
    assert time.perf_counter() - start < 30   # measured: well under a second (benchmarks/limits.py)


# --- the configuration's limits -------------------------------------------------------------------

def test_config_limits_are_validated_with_locations(tmp_path: Path) -> None:
    path = tmp_path / ".policycheck.yaml"
    path.write_text("limits:\n  versions: 500\n  verions: 3\n  deals: 0\n  in_values: 600\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_config(path)
    lines = caught.value.lines()
    assert len(lines) == 3
    assert any(":3:" in ln and "limits.verions: unknown limit" in ln for ln in lines)
    assert any(":4:" in ln and "limits.deals: a limit is a positive whole number" in ln for ln in lines)
    assert any(":5:" in ln and "the engine cannot run more than 480" in ln for ln in lines)


def test_config_limits_reach_the_options_and_apply(tmp_path: Path) -> None:
    path = tmp_path / ".policycheck.yaml"
    path.write_text("limits: {versions: 500, evaluations: 20000}\n", encoding="utf-8")
    config = load_config(path)
    assert config.limits.versions == 500 and config.limits.parties == limits.DEFAULT.parties
    assert merge(config).limits == config.limits and merge(Config()).limits == limits.DEFAULT
    data = case(versions=150, dated=False)
    refused(data)                                   # over the default
    with limits.using(config.limits):
        assert load_case_text(json.dumps(data)).case.id == "hostile"
    assert limits.current() == limits.DEFAULT


# --- rule limits: in: lists and any_of width, at load time ---------------------------------------

RULE_HEAD = """id: {id}
title: A generated rule for a limit
conditions: [C3]
severity: low
citation: {{source: CMA FM Initial Report, section: "§3.7.6", url: "https://www.gov.uk/", paragraph: generated}}
rationale: generated
message: "{{v.licence_name}} {{v.version}}"
mitigation: none
applies_to: [model_licence]
when:
  all:
    - fact: licence_version
      as: v
"""


def rule_dir(tmp_path: Path, rid: str, body: str) -> Path:
    folder = tmp_path / "rules" / "gen"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{rid}.yaml").write_text(RULE_HEAD.format(id=rid) + body, encoding="utf-8")
    return tmp_path / "rules"


def values(n: int) -> str:
    return ", ".join(f'"n{i}"' for i in range(n))


@pytest.mark.parametrize("rid, body, message", [
    ("long-in", f"      where:\n        version: {{in: [{values(600)}]}}\n",
     "'in' lists 600 values; the limit is 256; set limits.in_values"),
    ("wide-any", "      any_of:\n" + "".join(f"        - version: {{ne: s{i}}}\n" for i in range(65)),
     "any_of has 65 branches; the limit is 32; set limits.any_of"),
])
def test_the_issues_rule_attacks_are_refused_at_load_time_in_a_child(tmp_path: Path, rid: str, body: str,
                                                                     message: str) -> None:
    """In a child process: if the refusal regressed, the engine would hang (in: 512+)."""
    rules = rule_dir(tmp_path, rid, body)
    res = subprocess.run([EXE, "assess", str(ROOT / "cases" / "licences" / "llama-2.yaml"), "--no-config",
                          "--no-bundled", "--rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    (line,) = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert line.startswith(f"error: {rules}/gen/{rid}.yaml:") and message in line


@pytest.mark.parametrize("rid, body, message", [
    # not_in over 14 values: the refuter needs 32 expression entries (durable error 113)
    ("not-in-14", f"      where:\n        version: {{not_in: [{values(14)}]}}\n", "error 113"),
    # contains_any over 65 values: a fact holding them all pushes 65 alpha nodes (error 303; 64 run)
    ("contains-65", f"      where:\n        field_of_use_restrictions: {{contains_any: [{values(65)}]}}\n",
     "error 303"),
])
def test_rules_the_engine_cannot_run_are_refused_at_load_time(tmp_path: Path, rid: str, body: str,
                                                              message: str) -> None:
    rules = rule_dir(tmp_path, rid, body)
    with pytest.raises(RuleLoadError) as caught:
        load_rules([rules], bundled=False)
    (line,) = caught.value.lines()
    assert line.startswith(f"{rules}/gen/{rid}.yaml:") and "the engine cannot run this rule" in line and message in line


def test_raising_a_rule_limit_is_still_capped_by_the_engine(tmp_path: Path) -> None:
    ok = rule_dir(tmp_path / "a", "in-300", f"      where:\n        version: {{in: [{values(300)}]}}\n")
    with limits.using(limits.DEFAULT.replace(in_values=480)):
        pack = load_rules([ok], bundled=False)
        result = assess([load_case(ROOT / "cases" / "licences" / "llama-2.yaml")], pack)
    assert result.cases[0].case == "llama-2"
    with pytest.raises(ValueError, match="the engine cannot run more than 480"):
        limits.from_mapping({"in_values": 481})


def test_bundled_rules_are_within_the_rule_limits() -> None:
    assert load_rules().rules   # no bundled rule is refused by the in_values / any_of / engine checks


# --- engine errors name the rule and the case -----------------------------------------------------

def test_an_engine_error_during_assessment_names_the_case_and_the_rule() -> None:
    lc = load_case(ROOT / "cases" / "licences" / "llama-2.yaml")
    pack = load_rules([TEST_RULES], bundled=False)

    class Failing:
        def run(self, facts: Any) -> Any:
            raise EngineError([Problem("rule t-output-ban: fact 3 (licence_version x@1): durable_rules refused it: "
                                       "error code: 303")])

    with pytest.raises(EngineError) as caught:
        assess_case(lc, pack, Failing())  # type: ignore[arg-type]
    (problem,) = caught.value.problems
    assert problem.location == Location(lc.file)
    assert problem.message.startswith("engine error assessing case 'llama-2' on ") and "rule t-output-ban" in \
        problem.message and "licence_version x@1" in problem.message


# --- the steps that were quadratic ------------------------------------------------------------------

def _previous_reference(cs: c.Case) -> dict[str, str | None]:
    """The definition (all pairs): the model released most recently before, ties listed later;
    unknown for every dated model of a developer that also has an undated model."""
    out: dict[str, str | None] = {}
    dated = [(build.tl.day(m.release_date), n, m) for n, m in enumerate(cs.models)
             if isinstance(m.release_date, str) and m.release_date != c.UNKNOWN]
    undated = {m.developer for m in cs.models if not (isinstance(m.release_date, str) and m.release_date != c.UNKNOWN)}
    for when, _, m in dated:
        earlier = [(w, n, x) for w, n, x in dated if x.developer == m.developer and w < when]
        out[m.id] = (c.UNKNOWN if m.developer in undated else
                     max(earlier, key=lambda e: (e[0], e[1]))[2].id if earlier else None)
    return out


def test_previous_models_and_invested_to_date_equal_their_definitions() -> None:
    rng = random.Random(3)
    for _ in range(60):
        n = rng.randint(1, 12)
        data = case(parties=3, models=0)
        data["models"] = [{"id": f"m{k}", "name": "m", "developer": f"p{rng.randint(0, 2)}",
                           "release_date": rng.choice(["unknown", day(rng.randint(0, 5))])} for k in range(n)]
        data["deals"] = [{"id": f"d{k}", "title": "d", "date": day(rng.randint(0, 4)), "partner": f"p{rng.randint(1, 2)}",
                          "developer": "p0", "forms": rng.choice([["equity"], ["licence_fee"], "unknown"]),
                          "amount": rng.choice([{"value": float(rng.randint(1, 9)), "currency": rng.choice(["USD", "EUR"])},
                                                "unknown", None])} for k in range(rng.randint(0, 8))]
        for d in data["deals"]:
            if d["amount"] is None:
                del d["amount"]
        cs = load_case_text(json.dumps(data)).case
        assert build._previous_models(cs) == _previous_reference(cs)
        got = build._invested(list(cs.deals))
        for d in cs.deals:
            if build.amount_flow(d) == "investment":
                assert got[id(d)] == build._invested_to_date(d, list(cs.deals)), d.id


def test_flattening_is_linear_in_models_deals_and_list_lengths() -> None:
    """5,000 models and deals, 20,000-item lists (limits raised): the old all-pairs steps took
    minutes here (25 million pairs each); the linear ones take well under a second."""
    big = limits.DEFAULT.replace(facts=20_000, deals=5_000, list_items=20_000, dates=10**6, evaluations=10**9)
    data = case(versions=2, parties=3, restrictions=20_000, models=5_000)
    data["deals"] = [{"id": f"d{k}", "title": "d", "date": day(k % 3), "partner": "p1", "developer": "p0",
                      "forms": ["equity"], "amount": {"value": 1.0, "currency": "USD"}} for k in range(5_000)]
    with limits.using(big):
        lc = load_case_text(json.dumps(data))
    start = time.perf_counter()
    facts = flatten(lc, "2060-01-01")
    assert time.perf_counter() - start < 20   # measured ~0.3 s
    deal = next(f for f in facts if f.type == "deal" and f.id == "d2")   # on the last day: every round
    assert deal.values["invested_to_date"] == 5000.0
