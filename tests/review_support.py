"""Shared helpers for the review-workflow tests (formats, waivers, baselines, diff, config).

A tiny rule pack whose behaviour the tests control completely (so they do not depend on the
bundled rules, which change as the rule library grows), a builder for licence case files,
and a CLI runner that keeps stdout and stderr apart.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result

from policycheck.cli import main

RULES = {
    "ban-outputs": """
        id: ban-outputs
        title: Outputs may not train other models
        conditions: [C1, C3]
        severity: high
        citation: {source: Test report, section: "§1", url: "https://example.org/report"}
        rationale: Test rationale one.
        message: "{v.version} bars training on outputs."
        mitigation: Drop the ban.
        when:
          all:
            - {fact: licence_version, as: v, where: {output_training_ban: true}}
        mitigated_by:
          - id: competing-only
            description: Only competing models.
            severity: medium
            when:
              on:
                - {on: v, where: {output_ban_scope: competing_models}}
        """,
    "research-only": """
        id: research-only
        title: Research use only
        conditions: [C3]
        severity: medium
        citation: {source: Test report, section: "§2"}
        rationale: Test rationale two.
        message: "{v.version} allows research use only."
        mitigation: Allow commercial use.
        when:
          all:
            - {fact: licence_version, as: v, where: {research_only: true}}
        """,
    "gated": """
        id: gated
        title: Gated weights
        conditions: [OTC]
        severity: low
        citation: {source: Test report, section: "§3"}
        rationale: Test rationale three.
        message: "{v.version} gates the weights."
        mitigation: Publish the weights.
        when:
          all:
            - {fact: licence_version, as: v, where: {weights_access: gated}}
        """,
}


def write_rules(folder: Path) -> Path:
    """The three test rules under ``folder/rules/review/`` (a rule folder for --rules)."""
    root = folder / "rules"
    (root / "review").mkdir(parents=True, exist_ok=True)
    for rid, text in RULES.items():
        (root / "review" / f"{rid}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def case_text(case_id: str = "acme", versions: Sequence[dict[str, Any]] = (), *, title: str = "Acme licence") -> str:
    """A licence case: one licensor, one licence, ``versions`` as dicts of version/date/terms."""
    if not versions:
        versions = [{"version": "1.0", "date": "2023-01-01",
                     "terms": {"research_only": True, "weights_access": "gated", "output_training_ban": "none"}}]
    body = {
        "schema_version": 2, "id": case_id, "title": title, "kind": ["licence"], "as_of": "2024-01-31",
        "summary": "A test case.",
        "sources": [{"id": "src", "title": "The licence", "date": "2023-01-01", "kind": "primary"}],
        "parties": [{"id": "acme", "name": "Acme AI", "roles": ["fm_developer"]}],
        "licences": [{"id": "acme-licence", "name": "Acme model licence", "kind": "model_licence", "licensor": "acme",
                      "versions": list(versions)}],
    }
    # JSON is YAML; one key per line keeps line numbers meaningful in the tests.
    return json.dumps(body, indent=2) + "\n"


def write_case(folder: Path, name: str = "case.yaml", **kwargs: Any) -> Path:
    path = folder / name
    path.write_text(case_text(**kwargs), encoding="utf-8")
    return path


def run(args: Sequence[str], env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)


def assess(rules: Path, *args: Any, env: dict[str, str] | None = None) -> Result:
    """``policycheck assess`` with only the test rules and no configuration file."""
    return run(["assess", "--no-config", "--no-bundled", "--rules", str(rules), *[str(a) for a in args]], env=env)


BUNDLED_RULES = Path(__file__).resolve().parents[1] / "rules"


def bundled_fixture_names() -> list[tuple[str, str]]:
    """(fixture file relative to rules/, test name) of every bundled rule fixture, read with plain
    PyYAML, independently of policycheck's own fixture loader (so a loader that dropped files or
    tests would not go unnoticed by counts taken from the loader itself)."""
    out = []
    for path in sorted(BUNDLED_RULES.rglob("*.test.yaml")):
        for test in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            out.append((path.relative_to(BUNDLED_RULES).as_posix(), str(test["name"])))
    return out


def bundled_rule_ids() -> list[str]:
    """Ids of the bundled rules, from the file names on disk (``rules/<family>/<id>.yaml``)."""
    return sorted(p.name.removesuffix(".yaml") for p in BUNDLED_RULES.rglob("*.yaml")
                  if not p.name.endswith(".test.yaml"))


# A licence version that fires one high (output ban), one medium (research only) and one low
# (gated weights) rule of the test pack: the tests/test_ci_* cases are built from it.
BAN = {"version": "1.0", "date": "2023-01-01",
       "terms": {"research_only": True, "weights_access": "gated", "output_training_ban": {"scope": "other_models"}}}
