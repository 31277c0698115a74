"""`policycheck diff`: flags added/removed/re-graded, conditions, terms in force, exit codes,
JSON round trips, a licence update (SD3 Medium's, July 2024) and the LLaMA -> Llama 2 family case."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from review_support import assess, run, write_case, write_rules

from policycheck.diff import Diff

ROOT = Path(__file__).resolve().parents[1]
BAN_ANY = {"scope": "other_models"}
BAN_COMPETING = {"scope": "competing_models"}


def _v(terms: dict, version: str = "1.0", date: str = "2023-01-01") -> dict:
    return {"version": version, "date": date, "terms": terms}


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, Path]:
    return {"rules": write_rules(tmp_path), "dir": tmp_path}


def _diff(env: dict[str, Path], old: Path, new: Path, *extra: str) -> tuple[int, Diff, str]:
    res = run(["diff", "--no-config", "--no-bundled", "--rules", env["rules"], old, new, "--format", "json", *extra])
    assert res.exit_code in (0, 1), res.stderr
    return res.exit_code, Diff.model_validate_json(res.stdout), res.stderr


def _changes(d: Diff) -> set[tuple[str, str, str]]:
    return {(c.rule, c.change, c.direction) for c in d.flags}


def test_update_that_lifts_research_only_but_adds_an_output_ban(env):
    old = write_case(env["dir"], "old.yaml",
                     versions=[_v({"research_only": True, "weights_access": "gated", "output_training_ban": "none"})])
    new = write_case(env["dir"], "new.yaml",
                     versions=[_v({"research_only": False, "weights_access": "gated", "output_training_ban": BAN_ANY})])
    code, d, _ = _diff(env, old, new)
    assert code == 1
    assert _changes(d) == {("ban-outputs", "added", "widened"), ("research-only", "removed", "narrowed")}
    added = next(c for c in d.flags if c.change == "added")
    assert added.new_concern and added.new is not None and added.new.severity == "high"
    assert added.new.file == str(new) and added.new.line is not None
    assert d.unchanged_flags == 1  # gated
    conds = {(c.condition, c.old, c.new, c.direction) for c in d.conditions}
    assert ("C1", "no concern found", "concern", "widened") in conds
    assert d.new_concerns == 2  # the high flag and C1 moving to concern
    # Terms in force: the one changed version, old against new.
    (t,) = d.terms_in_force
    assert {(x.field, x.old, x.new) for x in t.terms} >= {("research_only", "yes", "no"),
                                                          ("output_training_ban", "no", "yes")}
    assert (t.widened, t.narrowed, t.unchanged) == (["ban-outputs"], ["research-only"], ["gated"])


def test_pure_narrowing_exits_zero(env):
    old = write_case(env["dir"], "old.yaml",
                     versions=[_v({"research_only": True, "weights_access": "gated", "output_training_ban": BAN_ANY})])
    new = write_case(env["dir"], "new.yaml",
                     versions=[_v({"research_only": False, "weights_access": "open_download",
                                   "output_training_ban": "none"})])
    code, d, _ = _diff(env, old, new)
    assert code == 0
    # all three test rules fired on the old terms and none fires on the new ones
    assert _changes(d) == {("ban-outputs", "removed", "narrowed"), ("research-only", "removed", "narrowed"),
                           ("gated", "removed", "narrowed")}
    assert len(d.flags) == 3 and d.new_concerns == 0 and d.unchanged_flags == 0


def test_severity_lowered_and_raised(env):
    wide = write_case(env["dir"], "wide.yaml", versions=[_v({"output_training_ban": BAN_ANY})])
    narrow = write_case(env["dir"], "narrow.yaml", versions=[_v({"output_training_ban": BAN_COMPETING})])
    code, d, _ = _diff(env, wide, narrow)
    assert code == 0
    assert _changes(d) == {("ban-outputs", "severity lowered", "narrowed")}
    assert (d.flags[0].old.severity, d.flags[0].new.severity, d.flags[0].matched_by) == ("high", "medium", "facts")
    code, d, _ = _diff(env, narrow, wide)
    assert code == 1  # raised into high: a new concern even though C1 was already a concern
    assert _changes(d) == {("ban-outputs", "severity raised", "widened")}
    assert d.flags[0].new_concern and d.conditions == []


def test_flag_lost_to_missing_facts_is_unclear_not_narrowed(env):
    old = write_case(env["dir"], "old.yaml", versions=[_v({"research_only": True})])
    new = write_case(env["dir"], "new.yaml", versions=[_v({"research_only": "unknown"})])
    code, d, _ = _diff(env, old, new)
    assert code == 0
    (c,) = d.flags
    assert (c.rule, c.change, c.direction) == ("research-only", "removed", "unclear")
    assert "not assessed" in (c.note or "")
    assert ("C3", "concern", "not assessed", "unclear") in {(x.condition, x.old, x.new, x.direction)
                                                           for x in d.conditions}


def test_matching_is_by_facts_not_message_text(env):
    old = write_case(env["dir"], "old.yaml", versions=[_v({"research_only": True}, version="1.0")])
    new = write_case(env["dir"], "new.yaml", versions=[_v({"research_only": True}, version="One point oh")])
    code, d, _ = _diff(env, old, new)
    assert (code, d.flags, d.unchanged_flags) == (0, [], 1)


def test_new_version_appended_to_the_timeline(env):
    v1 = _v({"research_only": True, "weights_access": "gated"}, "1.0", "2023-01-01")
    v2 = _v({"research_only": False, "weights_access": "gated", "output_training_ban": BAN_COMPETING}, "2.0",
            "2023-07-01")
    old = write_case(env["dir"], "old.yaml", versions=[v1])
    new = write_case(env["dir"], "new.yaml", versions=[v1, v2])
    code, d, _ = _diff(env, old, new)
    assert code == 1
    # 2.0 supersedes 1.0: 1.0's flags are history in NEW, not current, so they are removed and
    # 2.0's are added (gated fires on both versions: a flag on each, one of each side)
    assert _changes(d) == {("ban-outputs", "added", "widened"), ("gated", "added", "widened"),
                           ("gated", "removed", "narrowed"), ("research-only", "removed", "narrowed")}
    assert d.unchanged_flags == 0
    added_ids = {c.new.facts[0] for c in d.flags if c.new is not None}
    assert added_ids == {"licence_version acme-licence@2"}
    assert {c.old.facts[0] for c in d.flags if c.old is not None} == {"licence_version acme-licence@1"}
    (t,) = d.terms_in_force
    assert (t.old_version, t.new_version) == ("1.0", "2.0")
    assert t.narrowed == ["research-only"] and t.widened == ["ban-outputs"] and t.unchanged == ["gated"]


def test_assessment_json_inputs_round_trip(env):
    old = write_case(env["dir"], "old.yaml", versions=[_v({"research_only": True, "output_training_ban": "none"})])
    new = write_case(env["dir"], "new.yaml", versions=[_v({"research_only": True, "output_training_ban": BAN_ANY})])
    jold, jnew = env["dir"] / "old.json", env["dir"] / "new.json"
    for case, out in ((old, jold), (new, jnew)):
        assert assess(env["rules"], case, "--format", "json", "-o", out).exit_code == 0
    _, from_cases, _ = _diff(env, old, new)
    code, from_json, _ = _diff(env, jold, jnew)
    assert code == 1
    # The two routes agree, and on the right answer: only the output ban is new.
    assert _changes(from_cases) == {("ban-outputs", "added", "widened")} and from_cases.unchanged_flags == 1
    assert from_json.flags == from_cases.flags and from_json.conditions == from_cases.conditions
    assert from_json.terms_in_force == []  # terms need the case files
    # Mixed: a JSON assessment against a case file.
    _, mixed, _ = _diff(env, jold, new)
    assert mixed.flags == from_cases.flags


def test_markdown_and_table_formats(env):
    old = write_case(env["dir"], "old.yaml", versions=[_v({"research_only": True, "output_training_ban": "none"})])
    new = write_case(env["dir"], "new.yaml", versions=[_v({"research_only": False, "output_training_ban": BAN_ANY})])
    base = ["diff", "--no-config", "--no-bundled", "--rules", env["rules"], old, new]
    md = run([*base, "--format", "markdown"])
    assert md.exit_code == 1
    assert "### Concerns widened (new or more severe)" in md.stdout
    assert "### Concerns narrowed (resolved or less severe)" in md.stdout
    rows = [line for line in md.stdout.splitlines() if line.startswith("| **added**")]
    assert len(rows) == 1 and rows[0].count(" | ") == 4  # five columns, none broken by the text
    table = run(base)
    assert table.exit_code == 1
    assert "Concerns widened" in table.stdout and "ban-outputs" in table.stdout
    assert run([*base, "--exit-zero"]).exit_code == 0
    out = env["dir"] / "diff.md"
    assert run([*base, "--format", "markdown", "-o", out]).exit_code == 1
    assert out.read_text() == md.stdout


def test_bad_inputs_are_located_errors_for_both_files(env):
    bad1 = env["dir"] / "bad1.yaml"
    bad1.write_text("schema_version: 2\nid: x\ntitel: y\n")
    bad2 = env["dir"] / "bad2.json"
    bad2.write_text('{"tool": "policycheck", "cases": "nope"}')
    res = run(["diff", "--no-config", "--no-bundled", "--rules", env["rules"], bad1, bad2])
    assert res.exit_code == 2
    *lines, reason = res.stderr.splitlines()
    assert all(line.startswith("error: ") for line in lines)
    assert reason == f"policycheck: nothing compared: {bad1}, {bad2} could not be read"
    assert any(re.search(r"bad1\.yaml:3:1: titel: unknown field 'titel' \(did you mean 'title'\?\)", x) for x in lines)
    assert any("bad2.json" in x for x in lines)
    assert res.stdout == ""


def test_diff_is_deterministic(env):
    old = write_case(env["dir"], "old.yaml", versions=[_v({"research_only": True, "weights_access": "gated"})])
    new = write_case(env["dir"], "new.yaml", versions=[_v({"output_training_ban": BAN_ANY, "weights_access": "gated"})])
    args = ["diff", "--no-config", "--no-bundled", "--rules", env["rules"], old, new]
    for fmt in ("table", "markdown", "json"):
        assert run([*args, "--format", fmt]).stdout == run([*args, "--format", fmt]).stdout


SD3 = ROOT / "cases/licences/stability-sd3-licence.yaml"
SD3_LICENCE = "stability-sd3-medium-licence"


def _sd3_before_the_community_licence(folder: Path) -> Path:
    """The bundled SD3 case as its file stood before 5 July 2024: the SD3 Medium licence with
    its first version only (the non-commercial research licence), assessed the day before."""
    data = yaml.safe_load(SD3.read_text(encoding="utf-8"))
    (lic,) = [x for x in data["licences"] if x["id"] == SD3_LICENCE]
    assert [v["version"] for v in lic["versions"]] == ["Stability AI Non-Commercial Research Community License",
                                                       "Stability AI Community License"]
    del lic["versions"][1:]
    data["as_of"] = "2024-07-04"
    out = folder / "sd3-before.json"
    out.write_text(json.dumps(data, default=str), encoding="utf-8")
    return out


def test_a_licence_update_lists_what_narrowed_and_what_widened(tmp_path):
    """The issue's "done when", on a licence that really has two versions: SD3 Medium's
    non-commercial research licence (June 2024) against the Community License that replaced
    it (July 2024): commercial use opened below US$1M revenue, a threshold and a wider output
    ban arrived."""
    old = _sd3_before_the_community_licence(tmp_path)
    res = run(["diff", "--no-config", str(old), str(SD3), "--format", "json"])
    assert res.exit_code == 1, res.stderr  # the Community License adds concerns
    d = Diff.model_validate_json(res.stdout)
    by_licence = {t.new_licence: t for t in d.terms_in_force}
    assert set(by_licence) == {"creativeml-openrail-pp-m", SD3_LICENCE}
    assert by_licence["creativeml-openrail-pp-m"].terms == []   # SDXL's licence did not change
    t = by_licence[SD3_LICENCE]
    assert t.old_licence == SD3_LICENCE
    assert t.old_version == "Stability AI Non-Commercial Research Community License"
    assert t.new_version == "Stability AI Community License"
    terms = {x.field: (x.old, x.new) for x in t.terms}
    # What widened for licensees: commercial use, hosting for others; what narrowed: a revenue
    # threshold above which Stability decides, and an output ban reaching all foundation models.
    assert terms["commercial_use"] == ("prohibited", "restricted")
    assert terms["hosted_service_restriction"] == ("yes", "no")
    assert terms["has_user_threshold"] == ("no", "yes")
    assert terms["output_ban_scope"] == ("competing models", "foundation models")
    # The rules agree: the non-commercial concern goes, the threshold and wider-ban concerns arrive.
    assert {"user-threshold-licensor-discretion", "output-ban-widened", "new-user-threshold"} <= set(t.widened)
    assert {"non-commercial-terms", "hosted-service-restriction"} <= set(t.narrowed)
    assert any(c.rule == "output-ban-widened" and c.change == "added" and c.new_concern for c in d.flags)
    assert any(c.rule == "non-commercial-terms" and c.change == "removed" for c in d.flags)
    # And the table output names both directions.
    table = run(["diff", "--no-config", str(old), str(SD3)]).stdout
    assert "terms narrowed (rules now firing): " in table and "terms widened (rules no longer firing): " in table
    # The summary line agrees with the structured diff it sums up (counted here, by hand).
    m = re.fullmatch(r"flags: (.*) \((\d+) unchanged\); (\d+) condition status changes?; (\d+) new concerns?",
                     json.loads(res.stdout)["summary"])
    assert m, d.summary
    counts = {k: sum(1 for c in d.flags if c.change == k)
              for k in ("added", "removed", "severity raised", "severity lowered")}
    assert m[1] == ", ".join(f"{v} {k}" for k, v in counts.items() if v)
    assert (int(m[2]), int(m[3]), int(m[4])) == (d.unchanged_flags, len(d.conditions), d.new_concerns)
    assert counts["added"] >= 2 and d.new_concerns >= 1


def test_llama_to_llama_2_is_a_new_licence_beside_the_old_one():
    """LLaMA and Llama 2 are two models under two licences (the family view): diffing the LLaMA
    case against the family case compares the research licence with itself (unchanged) and
    brings Llama 2's licence in as new, not as a later version of LLaMA's."""
    llama, llama2 = ROOT / "cases/licences/llama.yaml", ROOT / "cases/licences/llama-2.yaml"
    res = run(["diff", "--no-config", str(llama), str(llama2), "--format", "json"])
    assert res.exit_code == 1, res.stderr  # Llama 2's licence adds concerns
    d = Diff.model_validate_json(res.stdout)
    (t,) = d.terms_in_force
    assert t.old_licence == t.new_licence == "llama-research-licence" and t.terms == []
    assert "non-commercial-terms" in t.unchanged
    assert "family-commercial-use-widened" in t.widened   # Llama 2 widens commercial use across the family
    added = {c.rule for c in d.flags if c.change == "added" and c.new_concern}
    assert "output-training-ban" in added


def test_review_commands_module_imports_on_its_own():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", "import policycheck.cli.diff as r; print(r.COMMANDS[0].name)"],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "diff"


def _multi(env: dict[str, Path], name: str, terms: list[dict]) -> Path:
    folder = env["dir"] / name
    folder.mkdir()
    for i, t in enumerate(terms):
        write_case(folder, f"c{i}.yaml", case_id=f"acme-{i}", versions=[_v(t)])
    return folder


def test_json_lines_and_json_inputs_agree_with_the_full_comparison(env):
    """A case whose content is the same on both sides is counted, not compared (its digest is
    equal): the result is the one of comparing every case in memory."""
    from policycheck.diff import diff, side
    from policycheck.load.assessments import load_assessment

    same = {"research_only": True, "output_training_ban": "none"}
    old = _multi(env, "old", [same, same, {"research_only": False, "output_training_ban": "none"}])
    new = _multi(env, "new", [same, {"research_only": True, "output_training_ban": BAN_ANY}, same])
    files = {}
    for name, folder in (("old", old), ("new", new)):
        for fmt in ("json", "jsonl"):
            files[name, fmt] = env["dir"] / f"{name}.{fmt}"
            res = assess(env["rules"], folder, "--exit-zero", "-o", f"{fmt}:{files[name, fmt]}")
            assert res.exit_code == 0, res.stderr
    assert "acme-0" in files["old", "json"].read_text()
    whole = diff(side("old", load_assessment(files["old", "json"]), None),  # type: ignore[arg-type]
                 side("new", load_assessment(files["new", "json"]), None))  # type: ignore[arg-type]
    assert whole.flags and whole.unchanged_flags
    for a in ("json", "jsonl"):
        for b in ("json", "jsonl"):
            _, d, _ = _diff(env, files["old", a], files["new", b])
            assert (d.flags, d.conditions, d.rules, d.unchanged_flags) == (
                whole.flags, whole.conditions, whole.rules, whole.unchanged_flags), (a, b)
            assert [(c.old, c.new) for c in d.cases] == [(c.old, c.new) for c in whole.cases]


def test_a_broken_case_in_an_assessment_is_located_at_its_line(env):
    case = write_case(env["dir"], "c.yaml", versions=[_v({"research_only": True, "output_training_ban": BAN_ANY})])
    path = env["dir"] / "a.json"
    assert assess(env["rules"], case, "--exit-zero", "-o", f"json:{path}").exit_code == 0
    good = env["dir"] / "good.json"
    good.write_text(path.read_text())
    lines = path.read_text().splitlines()
    at = next(i for i, ln in enumerate(lines) if '"severity": ' in ln and ln.startswith("        "))
    lines[at] = lines[at].split(":")[0] + ': "severe",'
    path.write_text("\n".join(lines) + "\n")
    res = run(["diff", "--no-config", "--no-bundled", "--rules", env["rules"], good, path])
    assert res.exit_code == 2
    first = res.stderr.splitlines()[0]
    assert re.match(rf"^error: {re.escape(str(path))}:{at + 1}:\d+: cases\[0\]\.flags\[\d+\]\.severity: ", first), first


def test_diff_applies_the_configured_limits(tmp_path):
    """``limits:`` in the configuration bound ``diff`` as they bound ``assess`` (a licence with
    more versions than the configured ``versions`` is refused, naming the limit)."""
    old = write_case(tmp_path, "old.yaml", versions=[_v({"commercial_use": "allowed"})])
    new = write_case(tmp_path, "new.yaml", versions=[_v({"commercial_use": "allowed"}),
                                                     _v({"commercial_use": "prohibited"}, "2.0", "2024-01-01")])
    conf = tmp_path / "policycheck.yaml"
    conf.write_text("limits:\n  versions: 1\n")
    rules = write_rules(tmp_path)
    res = run(["diff", "--config", conf, "--no-bundled", "--rules", rules, old, new])
    assert res.exit_code == 2
    assert "limits.versions" in res.stderr and "new.yaml" in res.stderr and "old.yaml" not in res.stderr
    assert run(["diff", "--no-config", "--no-bundled", "--rules", rules, old, new]).exit_code in (0, 1)
