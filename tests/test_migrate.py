"""`policycheck migrate` and ``load.migrate``: case format v1 files rewritten as v2.

The v1 samples are in tests/data/v1/: two bundled cases as they were before format v2
(``git show`` of cases/deals/microsoft-openai.yaml and cases/licences/llama-2.yaml), a
mixed flow/block case with comments, a JSON case, a rule fixture file and a v1 file that
already uses a v2 field. Each migration must validate as v2, keep every comment and every
original character (the only edits are the version number and inserted v2 fields), and
be idempotent.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from policycheck.cli import main
from policycheck.errors import InputError
from policycheck.io.reader import parse_document
from policycheck.load.cases import load_case_text
from policycheck.load.migrate import MigrateError, NotACaseFile, migrate_text

ROOT = Path(__file__).resolve().parents[1]
V1 = ROOT / "tests" / "data" / "v1"
CASE_SAMPLES = ["microsoft-openai.yaml", "llama-2.yaml", "flow.yaml", "case.json"]
UNSTATED = "now unstated — state it if the source says so"

# What migrate may insert: a v2 field, inline in a flow mapping or on its own line (YAML or JSON).
_INSERTED = r'"?(?:kind|currency|stage)"?: "?(?:model_licence|USD|effective)"?'
_INLINE = re.compile(r",(?: |\r?\n *)" + _INSERTED)
_OWN_LINE = re.compile(r"^ *" + _INSERTED + r",?\r?\n?$")


def text_of(name: str) -> str:
    return (V1 / name).read_text(encoding="utf-8")


def run(*args: str, stdin: str | None = None) -> Result:
    result = CliRunner().invoke(main, ["migrate", *args], input=stdin, catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


def only_insertions(before: str, after: str) -> list[str]:
    """Problems, if ``after`` is not ``before`` with schema_version 1 -> 2 and v2 fields inserted."""
    old = before.replace("schema_version: 1", "schema_version: 2", 1).replace('"schema_version": 1', '"schema_version": 2', 1)
    a, b = old.splitlines(keepends=True), after.splitlines(keepends=True)
    problems = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        if op == "delete":
            problems.append(f"lines deleted: {a[i1:i2]}")
            continue
        new = [line for line in b[j1:j2] if not _OWN_LINE.match(line)]
        if _INLINE.sub("", "".join(new)) != "".join(a[i1:i2]):
            problems.append(f"changed: {a[i1:i2]} -> {b[j1:j2]}")
    return problems


def comments(text: str) -> list[str]:
    """Every comment, from its '#' to the end of its line (the samples put no '#' inside strings)."""
    return [line[line.index("#"):] for line in text.splitlines() if "#" in line and not line.lstrip().startswith("url")]


# --- the library ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CASE_SAMPLES)
def test_a_v1_sample_migrates_to_a_valid_v2_case_keeping_every_comment_and_character(name: str) -> None:
    before = text_of(name)
    result = migrate_text(before, name)
    assert result.status == "migrated" and result.changed and result.kind == "case"
    loaded = load_case_text(result.text, name)  # validates against the v2 model and its references
    assert loaded.case.schema_version == 2
    assert only_insertions(before, result.text) == []
    assert comments(result.text) == comments(before)
    assert result.original == before


@pytest.mark.parametrize("name", CASE_SAMPLES)
def test_migrating_twice_changes_nothing(name: str) -> None:
    once = migrate_text(text_of(name), name)
    twice = migrate_text(once.text, name)
    assert (twice.status, twice.text, twice.notes) == ("already v2", once.text, ())


def test_the_migrated_data_is_the_v1_data_with_the_v1_defaults_written_out() -> None:
    before = parse_document(text_of("flow.yaml")).data
    after = parse_document(migrate_text(text_of("flow.yaml")).text).data
    expected: dict[str, Any] = copy.deepcopy(before)
    expected["schema_version"] = 2
    expected["licences"][0]["kind"] = "model_licence"
    expected["deals"][0]["amount"]["currency"] = "USD"
    expected["deals"][1]["amount"]["currency"] = "USD"
    for change in expected["data_access_changes"]:
        change["stage"] = "effective"
    expected["data_access_changes"][0]["after"]["price"]["currency"] = "USD"
    assert after == expected  # GBP stays GBP; the data licence keeps its kind; nothing else appears


def test_flow_mappings_get_the_field_inline_and_block_mappings_on_their_own_line() -> None:
    out = migrate_text(text_of("flow.yaml")).text
    assert "  - {id: acme-licence, name: Acme model licence, kind: model_licence, licensor: acme, versions: [\n" in out
    assert "     amount: {value: 5.0e8, currency: USD}, compute: exclusive}     # amount without currency (v1: USD)\n" in out
    assert "      value: 100    # block, no currency\n      currency: USD\n" in out
    assert "    date: 2024-03-01   # effective date\n    stage: effective\n    before: {price: free}\n" in out
    assert "  - {id: c2, holder: dataco, resource: DataCo archive, date: 2024-04-01, stage: effective,\n" in out


def test_json_stays_json_one_key_a_line() -> None:
    out = migrate_text(text_of("case.json"), "case.json").text
    import json

    data = json.loads(out)
    assert data["licences"][0]["kind"] == "model_licence" and data["deals"][0]["amount"]["currency"] == "USD"
    assert '      "name": "Licence",\n      "kind": "model_licence",\n      "licensor": "acme",\n' in out


def test_the_defaults_v1_read_as_false_or_empty_are_not_written_but_noted_with_their_place() -> None:
    result = migrate_text(text_of("flow.yaml"), "flow.yaml")
    lines = result.text.splitlines()
    got = [(n.path, n.message) for n in result.notes]
    assert got == [
        ("parties[0].roles", f"was read as [] (no roles) in v1; {UNSTATED}"),
        ("licences[0].models", f"was read as [] (no models) in v1; {UNSTATED}"),
        ("licences[0].versions[0].terms.output_training_ban.exempts_licensor_family", f"was read as false in v1; {UNSTATED}"),
        ("licences[1].versions[0].terms.output_training_ban.exempts_licensor_family", f"was read as false in v1; {UNSTATED}"),
    ]
    assert "exempts_licensor_family" not in result.text.replace("exempts_licensor_family: true", "").replace(
        "# a block mapping without exempts_licensor_family", "")
    where = [lines[n.line - 1] for n in result.notes]
    assert "{id: acme, name: Acme AI}" in where[0]
    assert "id: acme-licence" in where[1]
    assert "{scope: other_models}" in where[2]
    assert where[3].strip() == "scope: any_model"
    assert result.notes[0].render() == f"flow.yaml:13: parties[0].roles was read as [] (no roles) in v1; {UNSTATED}"


def test_note_lines_follow_the_migrated_text_and_can_name_the_original_line() -> None:
    result = migrate_text(text_of("fixture.yaml"), "fixture.yaml")
    (ban,) = [n for n in result.notes if n.path.endswith("exempts_licensor_family")]
    assert ban.source_line == 15 and ban.line == 16  # kind: model_licence was inserted above it
    assert "output_training_ban: {scope: other_models}" in result.text.splitlines()[ban.line - 1]
    assert "output_training_ban: {scope: other_models}" in text_of("fixture.yaml").splitlines()[ban.source_line - 1]
    assert ban.render(before=True).startswith("fixture.yaml:15: tests[0].case.licences[0].versions[0].terms.")


def test_a_fixture_file_has_its_inline_cases_migrated() -> None:
    before = text_of("fixture.yaml")
    result = migrate_text(before, "fixture.yaml")
    assert result.kind == "fixtures" and result.status == "migrated"
    assert only_insertions(before, result.text) == [] and comments(result.text) == comments(before)
    data = parse_document(result.text).data
    header = {"schema_version": 2, "id": "f", "title": "t", "kind": ["licence", "data_access"], "as_of": "2024-01-01",
              "summary": "s", "sources": [{"id": "fixture", "title": "t", "date": "unknown", "kind": "primary"}]}
    for test in (data["tests"][0], data["tests"][2]):
        load_case_text(__import__("json").dumps({**header, **test["case"]}))  # each inline case is valid v2
    assert data["tests"][1] == parse_document(before).data["tests"][1]  # a case_file test is left alone
    again = migrate_text(result.text, "fixture.yaml")
    assert again.status == "unchanged" and again.text == result.text
    assert [n.path for n in again.notes] == [n.path for n in result.notes]  # no version: noted on every run


def test_a_fixture_file_with_only_case_file_tests_has_nothing_to_change() -> None:
    text = "tests:\n  - name: The bundled case is flagged as expected\n    case_file: x.yaml\n    expect: {fires: true}\n"
    result = migrate_text(text, "f.test.yaml")
    assert (result.status, result.kind, result.text, result.notes) == ("unchanged", "fixtures", text, ())


def test_line_endings_and_a_missing_final_newline_are_kept() -> None:
    text = "schema_version: 1\r\nid: x\r\nlicences:\r\n  - id: l\r\n    name: L"
    out = migrate_text(text).text
    assert out == "schema_version: 2\r\nid: x\r\nlicences:\r\n  - id: l\r\n    name: L\r\n    kind: model_licence"


def test_a_flow_mapping_written_one_pair_a_line_keeps_each_comment_on_its_pair() -> None:
    text = ("schema_version: 1\nlicences:\n  - {id: a,  # the id\n     name: A,  # the name\n     licensor: x}\n"
            "  - {id: b,\n     licensor: y,\n     name: B  # last\n    }\n")
    assert migrate_text(text).text == (
        "schema_version: 2\nlicences:\n  - {id: a,  # the id\n     name: A,  # the name\n     kind: model_licence,\n"
        "     licensor: x}\n  - {id: b,\n     licensor: y,\n     name: B,  # last\n     kind: model_licence\n    }\n")


def test_an_empty_flow_mapping_gets_the_field() -> None:
    text = "schema_version: 1\ndeals:\n  - {id: d, amount: {}}\n"
    assert migrate_text(text).text == "schema_version: 1\ndeals:\n  - {id: d, amount: {currency: USD}}\n".replace(
        "schema_version: 1", "schema_version: 2")


@pytest.mark.parametrize("text, message", [
    ("schema_version: 3\nid: x\n", "unsupported schema_version 3"),
    ("schema_version: '1'\nid: x\n", "unsupported schema_version '1'"),
    ("schema_version: true\nid: x\n", "unsupported schema_version True"),
])
def test_an_unknown_version_is_refused_with_its_place(text: str, message: str) -> None:
    with pytest.raises(MigrateError) as info:
        migrate_text(text, "x.yaml")
    (line,) = info.value.lines()
    assert line.startswith("x.yaml:1:") and message in line


def test_a_file_that_is_neither_a_case_nor_a_fixture_is_refused() -> None:
    with pytest.raises(NotACaseFile):
        migrate_text((ROOT / "rules" / "licence-terms" / "output-training-ban.yaml").read_text(encoding="utf-8"))
    with pytest.raises(NotACaseFile):
        migrate_text("- a list\n")


def test_invalid_yaml_is_the_readers_located_error() -> None:
    with pytest.raises(InputError) as info:
        migrate_text("schema_version: 1\nkind: [licence\nid: x\n", "bad.yaml")
    (line,) = info.value.lines()
    assert line.startswith("bad.yaml:3:") and "invalid YAML" in line


# --- the command ----------------------------------------------------------------------------------


@pytest.fixture()
def samples(tmp_path: Path) -> Path:
    for name in CASE_SAMPLES + ["fixture.yaml"]:
        (tmp_path / name).write_bytes((V1 / name).read_bytes())
    return tmp_path


def test_migrate_rewrites_in_place_and_keeps_the_file_mode(samples: Path) -> None:
    path = samples / "flow.yaml"
    os.chmod(path, 0o640)
    result = run(str(path))
    assert result.exit_code == 0, result.stderr
    assert path.read_text(encoding="utf-8") == migrate_text(text_of("flow.yaml")).text
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert result.stdout == ""
    err = result.stderr.splitlines()
    assert err[-1] == f"{path}: migrated to case format v2"
    assert err[0] == f"{path}:13: parties[0].roles was read as [] (no roles) in v1; {UNSTATED}"
    assert len(err) == 5
    assert not [p for p in samples.iterdir() if p.name.startswith(".")]  # no temporary file left behind


def test_a_v2_file_is_left_alone_and_said_so(samples: Path) -> None:
    path = samples / "flow.yaml"
    assert run(str(path)).exit_code == 0
    migrated = path.read_bytes()
    result = run(str(path))
    assert result.exit_code == 0 and result.stderr == f"{path}: already case format v2; left alone\n"
    assert path.read_bytes() == migrated


def test_check_exits_1_when_a_file_would_change_and_writes_nothing(samples: Path) -> None:
    before = {p: p.read_bytes() for p in samples.iterdir()}
    result = run("--check", str(samples))
    assert result.exit_code == 1 and result.stdout == ""
    assert {p: p.read_bytes() for p in samples.iterdir()} == before
    assert f"{samples / 'case.json'}: would be migrated to case format v2" in result.stderr.splitlines()
    assert run(str(samples)).exit_code == 0
    assert run("--check", *(str(samples / n) for n in CASE_SAMPLES)).exit_code == 0


def test_diff_prints_a_unified_diff_and_writes_nothing(samples: Path) -> None:
    path = samples / "flow.yaml"
    before = path.read_bytes()
    result = run("--diff", str(path))
    assert result.exit_code == 0
    assert path.read_bytes() == before
    assert result.stdout.startswith(f"--- a/{path}\n+++ b/{path}\n@@ ")
    assert "-schema_version: 1   # format v1\n+schema_version: 2   # format v1\n" in result.stdout
    assert "+      currency: USD\n" in result.stdout
    # with --diff nothing is written, so notes give the lines of the file as it is
    assert f"{path}:21: licences[0].versions[0].terms.output_training_ban.exempts_licensor_family" in result.stderr
    both = run("--diff", "--check", str(path))
    assert both.exit_code == 1 and both.stdout == result.stdout


def test_stdin_to_stdout(samples: Path) -> None:
    result = run("-", stdin=text_of("case.json"))
    assert result.exit_code == 0
    assert result.stdout == migrate_text(text_of("case.json")).text
    assert result.stderr == ""  # the JSON sample states roles and models everywhere
    noted = run("-", stdin=text_of("flow.yaml"))
    assert noted.stderr.splitlines()[0] == f"<stdin>:13: parties[0].roles was read as [] (no roles) in v1; {UNSTATED}"
    assert run("--check", "-", stdin=text_of("flow.yaml")).exit_code == 1


def test_a_file_that_fails_to_parse_gives_one_located_line_exit_2_and_nothing_is_written(samples: Path) -> None:
    bad = samples / "bad.yaml"
    bad.write_text("schema_version: 1\nid: bad\nkind: [licence\nas_of: 2024-01-01\n", encoding="utf-8")
    before = {p: p.read_bytes() for p in samples.iterdir()}
    result = run(str(samples / "flow.yaml"), str(bad))
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {bad}:4:") and "invalid YAML" in line
    assert {p: p.read_bytes() for p in samples.iterdir()} == before  # flow.yaml was not migrated either


def test_a_named_file_that_is_not_a_case_is_an_error_but_a_folder_skips_it(samples: Path) -> None:
    rule = samples / "rule.yaml"
    rule.write_text((ROOT / "rules" / "licence-terms" / "output-training-ban.yaml").read_text(encoding="utf-8"))
    named = run(str(rule))
    assert named.exit_code == 2 and "not a case file" in named.stderr
    folder = run(str(samples))
    assert folder.exit_code == 0 and str(rule) not in folder.stderr


def test_a_v1_file_given_to_assess_is_one_line_pointing_at_migrate() -> None:
    """One located error line for the file, then the run's exit reason (issue 11: every exit 2
    ends with a ``policycheck: ...`` line saying why; tests/test_ci_exit.py)."""
    for name in ("flow.yaml", "until.yaml"):  # until.yaml uses a v2 field: the version is reported, nothing else
        path = str(V1 / name)
        result = CliRunner().invoke(main, ["assess", "--no-config", path], catch_exceptions=False)
        assert result.exit_code == 2
        line, reason = result.stderr.splitlines()
        assert line.startswith(f"error: {path}:") and "case format v1" in line and "policycheck migrate" in line
        assert reason == f"policycheck: 1 file not assessed: {path}"


def test_until_sample_migrates_and_its_until_is_read() -> None:
    loaded = load_case_text(migrate_text(text_of("until.yaml")).text)
    assert loaded.case.licences[0].versions[0].until == "2023-06-01"


def test_the_bundled_cases_fixtures_and_conformance_corpus_are_already_v2() -> None:
    """Nothing left to migrate: a v1 case or a fixture case missing a v2 field fails this."""
    result = CliRunner().invoke(main, ["migrate", "--check", str(ROOT / "cases"), str(ROOT / "rules"),
                                       str(ROOT / "tests" / "conformance"),
                                       *(str(ROOT / "tests" / "data" / "cases" / n)
                                         for n in ("minimal.yaml", "minimal.json", "facts.yaml"))],
                                catch_exceptions=False)
    assert result.exit_code == 0, [x for x in result.stderr.splitlines() if "would be migrated" in x]


def test_the_bundled_microsoft_openai_case_was_migrated_from_its_v1_text() -> None:
    """The v1 sample is the bundled case before format v2; the bundled case then gained v2 facts."""
    migrated = migrate_text(text_of("microsoft-openai.yaml")).text
    now = (ROOT / "cases" / "deals" / "microsoft-openai.yaml").read_text(encoding="utf-8")
    old_case, new_case = load_case_text(migrated).case, load_case_text(now).case
    # The same case (its header and summary were since corrected, issue 10: the GPT-3 licence) ...
    for field in ("schema_version", "id", "title", "kind", "as_of"):
        assert getattr(old_case, field) == getattr(new_case, field), field
    assert [p.id for p in old_case.parties] == [p.id for p in new_case.parties]
    assert [ln for ln in migrated.splitlines()[3:9]] == [ln for ln in now.splitlines()[3:9]]
    # ... whose deals the bundled case keeps, except the observer exit, now the end of the
    # observer right, and which gained the 2020 exclusive GPT-3 licence.
    old_deals, new_deals = [d.id for d in old_case.deals], [d.id for d in new_case.deals]
    assert [d for d in old_deals if d not in new_deals] == ["msft-openai-observer-exit-2024"]
    assert "msft-openai-gpt3-licence-2020" in new_deals and "msft-openai-gpt3-licence-2020" not in old_deals
    assert "msft-openai-observer-exit-2024" in migrated and "msft-openai-observer-exit-2024" not in now


def test_the_readme_case_example_is_a_valid_v2_case() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", readme, flags=re.S) if b.startswith("schema_version:")]
    loaded = load_case_text(block, "README.md")
    assert loaded.case.schema_version == 2
    assert migrate_text(block).status == "already v2"
