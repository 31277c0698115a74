"""The Python API for embedding: ``from policycheck import assess, load_case, load_case_text, load_rules``."""

from __future__ import annotations

import json
import shutil
import tomllib
from importlib import resources
from pathlib import Path

import pytest

import policycheck
from policycheck import Assessment, PolicycheckError, assess, load_case, load_case_text, load_rules

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
LLAMA2 = ROOT / "cases" / "licences" / "llama-2.yaml"


def test_public_names() -> None:
    assert set(policycheck.__all__) == {
        "Assessment", "PolicycheckError", "__version__", "assess", "load_case", "load_case_text", "load_rules"}
    for name in policycheck.__all__:
        assert getattr(policycheck, name) is not None
    # The version the package reports is the one the project declares (not just "some string").
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert policycheck.__version__ == declared and declared.count(".") == 2


def test_star_import_is_narrow() -> None:
    namespace: dict[str, object] = {}
    exec("from policycheck import *", namespace)
    assert {k for k in namespace if not k.startswith("__")} <= set(policycheck.__all__)
    assert "engine" not in namespace and "durable" not in namespace


def test_py_typed_ships_with_the_package() -> None:
    assert (resources.files("policycheck") / "py.typed").is_file()


def test_load_assess_roundtrip() -> None:
    case = load_case(LLAMA2)
    pack = load_rules([DATA / "rules"], bundled=False)
    result = assess(case, pack)
    assert [c.case for c in result.cases] == ["llama-2"]
    n_files = len([p for p in (DATA / "rules").rglob("*.yaml") if not p.name.endswith(".test.yaml")])
    assert result.rule_pack.rules == n_files == 9 and result.rule_pack.digest == pack.digest
    # Severities after mitigation, as the test rules and the case's terms give them: the user
    # threshold is medium, lowered to low by its "only the largest" mitigation (700 million
    # users); LLaMA's research licence and the Llama 2 Community License are both in force, so
    # each is a latest version restricting commercial use.
    flags = sorted((f.rule, f.evidence[0].id, f.base_severity, f.severity) for f in result.cases[0].flags)
    assert flags == [
        ("t-gatekeeper-developer", "meta", "info", "info"),
        ("t-latest-restricts-commercial", "llama-2-community-license@1", "low", "low"),
        ("t-latest-restricts-commercial", "llama-research-licence@1", "low", "low"),
        ("t-output-ban", "llama-2-community-license@1", "high", "high"),
        ("t-user-threshold", "llama-2-community-license@1", "medium", "low")]
    # Two licences of one version each (the family view): no join between two versions of
    # one licence has anything to match.
    status = {r.rule: r.status for r in result.cases[0].rules}
    assert status["t-threshold-added"] == status["t-later-adds-output-ban"] == "not applicable"
    assert result.summary == "1 case, 5 flags (1 high, 3 low, 1 info); 1 with a concern"


def test_assess_accepts_one_case_or_an_iterable() -> None:
    pack = load_rules([DATA / "rules"], bundled=False)
    case = load_case(LLAMA2)
    one = assess(case, pack).to_json()
    assert assess([case], pack).to_json() == one
    assert assess(iter([case]), pack).to_json() == one
    assert assess((c for c in [case]), pack).to_json() == one
    assert [c["case"] for c in json.loads(one)["cases"]] == ["llama-2"]
    other = load_case(DATA / "cases" / "minimal.yaml")
    assert [c.case for c in assess(iter([other, case]), pack).cases] == ["llama-2", "minimal"]


def test_assess_defaults_to_the_bundled_pack() -> None:
    case = load_case(LLAMA2)
    default = assess(case)
    assert default.to_json() == assess(case, load_rules()).to_json()
    assert default.rule_pack.digest == load_rules().digest
    # ... and that pack is the bundled rules/ folder, not some other pack (counted from disk).
    bundled_files = [p for p in (ROOT / "rules").rglob("*.yaml") if not p.name.endswith(".test.yaml")]
    assert default.rule_pack.rules == len(bundled_files) >= 30
    assert default.rule_pack.digest != load_rules([DATA / "rules"], bundled=False).digest


def test_the_pack_digest_follows_the_rule_files_contents(tmp_path: Path) -> None:
    """The digest identifies what the rules say, not where they live: the same files copied
    elsewhere give the same digest; one changed byte gives another."""
    original = load_rules([DATA / "rules"], bundled=False).digest
    copy = tmp_path / "copy"
    shutil.copytree(DATA / "rules", copy)
    assert load_rules([copy], bundled=False).digest == original
    rule = copy / "licence-terms" / "t-closed-weights.yaml"
    rule.write_text(rule.read_text() + "\n")
    assert load_rules([copy], bundled=False).digest != original


def test_assessment_json_roundtrips_through_the_model() -> None:
    result = assess(load_case(LLAMA2), load_rules([DATA / "rules"], bundled=False))
    text = result.to_json()
    assert text.endswith("}\n") and json.loads(text)["tool"] == "policycheck"
    assert Assessment.model_validate_json(text).to_json() == text


def test_load_case_text_yaml_and_json() -> None:
    yaml_case = load_case_text((DATA / "cases" / "minimal.yaml").read_text(), "inline.yaml")
    assert yaml_case.case.id == "minimal" and yaml_case.file == "inline.yaml"
    json_case = load_case_text((DATA / "cases" / "minimal.json").read_text())
    assert json_case.case.id == "minimal-json" and json_case.file == "<string>"


def test_load_case_accepts_str_and_path() -> None:
    assert load_case(str(LLAMA2)).case == load_case(LLAMA2).case


def test_errors_are_policycheck_errors_with_places() -> None:
    with pytest.raises(PolicycheckError) as info:
        load_case_text("schema_version: 2\nid: x\ntitel: y\n", "inline.yaml")
    problems = info.value.problems
    assert any(p.location.file == "inline.yaml" and p.location.line == 3 and p.suggestion == "title"
               for p in problems)
    assert all(line.startswith("inline.yaml:") for line in info.value.lines())


def test_rule_errors_are_policycheck_errors(tmp_path: Path) -> None:
    with pytest.raises(PolicycheckError):
        load_rules([tmp_path / "missing"], bundled=False)


def test_no_concern_found_needs_every_fact(tmp_path: Path) -> None:
    """Missing information never reads as a clean bill: the same case with one fact unknown moves
    the condition from 'no concern found' to 'not assessed'."""
    rules = tmp_path / "rules" / "fam"
    rules.mkdir(parents=True)
    for name in ("licence-terms/t-closed-weights.yaml", "licence-terms/t-revocable-at-will.yaml"):
        src = DATA / "rules" / name
        (rules / src.name).write_text(src.read_text().replace("conditions: [C2]", "conditions: [C3]"))
    pack = load_rules([tmp_path / "rules"], bundled=False)
    text = """schema_version: 2
id: clean
title: A clean licence
kind: [licence]
as_of: 2024-01-01
summary: Everything the two rules read is known and harmless.
sources: [{id: s, title: S, date: 2024-01-01, kind: primary}]
parties: [{id: lab, name: Lab}]
models: [{id: m, name: M, developer: lab, weights: open_download}]
licences:
  - {id: lic, name: L, kind: model_licence, licensor: lab, versions: [{version: "1", date: 2023-01-01, terms: {revocation: irrevocable}}]}
"""
    clean = assess(load_case_text(text), pack).cases[0]
    c3 = {c.condition: c for c in clean.conditions}["C3"]
    assert (c3.status, c3.rules_applicable, c3.rules_assessed) == ("no concern found", 2, 2)
    assert {r.rule: r.status for r in clean.rules} == {"t-closed-weights": "clear", "t-revocable-at-will": "clear"}
    variants = [
        (text.replace("revocation: irrevocable", "revocation: unknown"), "revocation", "unknown"),
        (text.replace("terms: {revocation: irrevocable}", "terms: {}"), "revocation", "unstated"),
        (text.replace("weights: open_download", "weights: unknown"), "weights", "unknown"),
        (text.replace(", weights: open_download", ""), "weights", "unstated"),
    ]
    for edited, field, status in variants:
        assert edited != text
        result = assess(load_case_text(edited), pack).cases[0]
        c3 = {c.condition: c for c in result.conditions}["C3"]
        assert (c3.status, c3.rules_assessed) == ("not assessed", 1), (field, status)
        assert [(m.field, m.status) for r in result.rules for m in r.missing] == [(field, status)]
        assert result.flags == []
