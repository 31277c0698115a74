"""Error messages are in the project's words: no pydantic wording, no Python class names.

The property: for every pydantic model a user writes (case, rule, fixture, waiver, baseline,
configuration, coverage file) and the assessment JSON that ``diff`` and ``--baseline`` read,
every field fed a value of a wrong kind through the real loader gives one-line messages that
name the file, line, column and field, and never say "Input should be", "instance of", a
class name such as ``OutputTrainingBan``, or "Value error,". The sample documents are built
from the models themselves (``sample``), so a field added later is covered too.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from policycheck.cli import main
from policycheck.errors import PolicycheckError
from policycheck.io.config import Settings, load_config
from policycheck.io.reader import format_path, parse_document
from policycheck.io.schema_words import annotations_at, describe_model, literal_values, members, metadata, models_of
from policycheck.load.cases import load_case, load_case_text
from policycheck.load.rules import load_rule_file
from policycheck.model.assessment import Assessment
from policycheck.model.case import Case, OutputTrainingBan, Shape, Terms
from policycheck.model.rule import Rule
from policycheck.render.catalogue import CoverageFile, load_coverage
from policycheck.review.baseline import BaselineFile, fingerprints_from_document
from policycheck.review.waivers import WaiverFile, waivers_from_document
from policycheck.ruletest.fixtures import FixtureFile, load_fixture_file

REPO = Path(__file__).resolve().parents[1]
PYDANTIC = re.compile(
    r"Input should|instance of|valid dictionary|Value error|Assertion failed|Field required|String should|"
    r"List should|should have|Extra inputs|union\[|literal\[|constrained-|function-(after|before|wrap|plain)|"
    r"\[type=|pydantic|NoneType|Dictionary should", re.IGNORECASE)
PYTHON_TYPES = ("str", "int", "float", "dict", "bool", "tuple", "NoneType")
# Values of the wrong kind for most fields (and of the right kind for some: those give no error).
WRONG: tuple[Any, ...] = (1.5, 7, True, None, "text", "", ["a"], {"k": 1}, "x" * 100)
_STRICT = ConfigDict(strict=True)
_TEXTS = ("a1", "2024-01-01", "https://example.org/x", "0123456789abcdef", "§3.3.1", "a sentence, long enough")


# --------------------------------------------------------------------------- sample documents


def sample(annotation: Any, name: str = "") -> Any:
    """A value of ``annotation`` (valid where it can be): models with all their fields, one
    item per list, the first word of a choice, a text that passes its pattern."""
    choices = [m for m in members(annotation) if m is not type(None) and literal_values(m) != ["unknown"]]
    choices.sort(key=lambda m: 0 if isinstance(m, type) and issubclass(m, BaseModel) else 1)
    if not choices:
        return "unknown"
    first = choices[0]
    origin = typing.get_origin(first)
    if isinstance(first, type) and issubclass(first, BaseModel):
        return {info.alias or key: sample(_full(info), key) for key, info in first.model_fields.items()}
    if literal_values(first):
        return literal_values(first)[0]
    if origin in (list, tuple, set, frozenset):
        return [sample(typing.get_args(first)[0], name)]
    if origin is dict:
        key_type, value_type = typing.get_args(first)
        return {str(sample(key_type)) if key_type is not str else "a1": sample(value_type)}
    if first is bool:
        return True
    if first in (int, float):
        return 1 if name not in ("limit", "value", "amount") else 10
    if first is str or typing.get_origin(annotation) is typing.Annotated:
        return _text(annotation, name)
    if getattr(first, "__name__", "") == "date":
        return "2024-01-01"
    return "a1"


def _full(info: Any) -> Any:
    return typing.Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation


def _text(annotation: Any, name: str) -> str:
    if any(isinstance(m, Shape) and m.kind == "date" for m in metadata(annotation)) or name in ("as_of", "expires"):
        return "2024-01-01"
    if name == "url":
        return "https://example.org/x"
    for text in _TEXTS:
        try:
            TypeAdapter(annotation, config=_STRICT).validate_python(text)
            return text
        except (ValidationError, TypeError):
            continue
    return "a1"


def field_paths(model: type[BaseModel], data: Any, path: tuple[str | int, ...] = (),
                seen: set[tuple[str, str]] | None = None) -> Iterator[tuple[str | int, ...]]:
    """The path of every field of every model in ``data``, once per (model, field)."""
    seen = set() if seen is None else seen
    if not isinstance(data, dict):
        return
    for key, info in model.model_fields.items():
        name = info.alias or key
        if name not in data or (model.__name__, name) in seen:
            continue
        seen.add((model.__name__, name))
        yield path + (name,)
        yield from _inside(info.annotation, data[name], path + (name,), seen)


def _inside(annotation: Any, value: Any, path: tuple[str | int, ...], seen: set[tuple[str, str]]) -> Iterator[
        tuple[str | int, ...]]:
    for m in members(annotation):
        origin = typing.get_origin(m)
        if isinstance(m, type) and issubclass(m, BaseModel) and isinstance(value, dict):
            yield from field_paths(m, value, path, seen)
        elif origin in (list, tuple) and isinstance(value, list) and value:
            yield from _inside(typing.get_args(m)[0], value[0], path + (0,), seen)
        elif origin is dict and isinstance(value, dict) and value:
            key = next(iter(value))
            yield from _inside(typing.get_args(m)[1], value[key], path + (key,), seen)


def replaced(data: Any, path: tuple[str | int, ...], value: Any) -> Any:
    copy = json.loads(json.dumps(data))
    target = copy
    for seg in path[:-1]:
        target = target[seg]
    target[path[-1]] = value
    return copy


# --------------------------------------------------------------------------- the loaders


def _lines(fn: Callable[[], object]) -> list[str]:
    try:
        fn()
    except PolicycheckError as exc:
        return exc.lines()
    return []


def _file(tmp: Path, name: str, data: Any) -> Path:
    path = tmp / name
    path.write_text(_text_of(data), encoding="utf-8")
    return path


_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _text_of(data: Any) -> str:
    return yaml.dump(data, Dumper=_DUMPER, sort_keys=False, allow_unicode=True)


def _assessment() -> Any:
    from policycheck.api import assess

    case = next(p for p in sorted((REPO / "cases").rglob("*.yaml")) if "data" not in p.parts[-2:-1])
    return _first_items(json.loads(assess(load_case(case)).to_json()))


def _first_items(data: Any) -> Any:
    """``data`` with every list cut to its first item (each field still appears once)."""
    if isinstance(data, list):
        return [_first_items(x) for x in data[:1]]
    if isinstance(data, dict):
        return {k: _first_items(v) for k, v in data.items()}
    return data


Loader = Callable[[Path, Any], list[str]]
LOADERS: dict[str, tuple[type[BaseModel], str, Loader]] = {
    "case": (Case, "case.yaml", lambda tmp, d: _lines(lambda: load_case_text(_text_of(d), "case.yaml"))),
    "rule": (Rule, "a1.yaml", lambda tmp, d: _lines(lambda: load_rule_file(_file(tmp, "a1.yaml", d)))),
    "fixture": (FixtureFile, "a1.test.yaml",
                lambda tmp, d: _lines(lambda: load_fixture_file(_file(tmp, "a1.test.yaml", d)))),
    "waivers": (WaiverFile, "waivers.yaml",
                lambda tmp, d: _lines(lambda: waivers_from_document(parse_document(_text_of(d), "waivers.yaml")))),
    "config": (Settings, ".policycheck.yaml",
               lambda tmp, d: _lines(lambda: load_config(_file(tmp, ".policycheck.yaml", d)))),
    "coverage": (CoverageFile, "coverage.yaml",
                 lambda tmp, d: _lines(lambda: load_coverage(_file(tmp, "coverage.yaml", d)))),
    "baseline": (BaselineFile, "baseline.json", lambda tmp, d: _lines(
        lambda: fingerprints_from_document(parse_document(json.dumps(d, indent=2), "baseline.json")))),
    "assessment": (Assessment, "assessment.json", lambda tmp, d: _lines(
        lambda: fingerprints_from_document(parse_document(json.dumps(d, indent=2), "assessment.json")))),
}


# Keys that say what kind of file it is: a wrong value there makes it "not a baseline or
# assessment" (located at the top of the file), not a field error.
KIND_KEYS = {"assessment": {("tool",), ("cases",)}, "baseline": {("policycheck_baseline",)}, "case": {("schema_version",)}}


def check_line(line: str, file: str, names: frozenset[str]) -> None:
    assert "\n" not in line and "\r" not in line, line
    assert not PYDANTIC.search(line), line
    words = set(re.findall(r"[A-Za-z_]+", line))
    assert not words & names, (words & names, line)
    assert not words & set(PYTHON_TYPES), line
    assert re.match(rf"^(.*/)?{re.escape(file)}:\d+:\d+: ", line), line


@pytest.mark.parametrize("what", sorted(LOADERS))
def test_no_field_of_any_user_model_leaks_pydantic_wording(what: str, tmp_path: Path) -> None:
    root, file, load = LOADERS[what]
    data = _assessment() if what == "assessment" else sample(root)
    baseline = set(load(tmp_path, data))
    names = frozenset(models_of(root)) | {root.__name__}
    paths = list(field_paths(root, data))
    assert len(paths) >= (len(names) if what != "assessment" else 20), (what, len(paths))
    named = 0
    for wrong in WRONG:
        for batch in batches(paths, KIND_KEYS.get(what, set())):
            mutated = data
            for path in batch:
                mutated = replaced(mutated, path, wrong)
            found = [ln for ln in load(tmp_path, mutated) if ln not in baseline]
            for line in found:
                check_line(line, file, names)
            for path in batch:
                if refused(root, path, wrong) and path not in KIND_KEYS.get(what, ()):
                    field = format_path(path)
                    assert any(f": {field}: " in ln or f": {field}." in ln or f": {field}[" in ln for ln in found), (
                        path, wrong, found)
                    named += 1
    assert named >= 2 * len(paths), (what, named, len(paths))  # each field refuses several of the wrong values


Path_ = tuple[str | int, ...]


def batches(paths: list[Path_], alone: set[Path_]) -> list[list[Path_]]:
    """``paths`` in groups where no path is inside another, so that one load checks a whole
    group (each path's error is reported on its own line); ``alone`` paths get a load each."""
    out: list[list[Path_]] = [[p] for p in paths if p in alone]
    groups: list[list[Path_]] = []
    for path in sorted((p for p in paths if p not in alone), key=len, reverse=True):
        for group in groups:
            if not any(q[: len(path)] == path or path[: len(q)] == q for q in group):
                group.append(path)
                break
        else:
            groups.append([path])
    return out + groups


def refused(root: type[BaseModel], path: tuple[str | int, ...], value: Any) -> bool:
    """Whether the field at ``path`` refuses ``value`` by its declared type alone."""
    strict = root.model_config.get("strict", False)
    for annotation in annotations_at(root, path):
        model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        try:
            adapter = TypeAdapter(annotation) if model else TypeAdapter(annotation, config=ConfigDict(strict=strict))
            adapter.validate_python(value)
            return False
        except ValidationError:
            continue
        except TypeError:
            return False
    return True


def toml(value: Any) -> str:
    """A value as TOML writes it (enough for the configuration's values)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


TOML_WRONG = (*(w for w in WRONG if w is not None), dt.date(2024, 1, 1), dt.datetime(2024, 1, 1, 10, 0), dt.time(7, 30))


@pytest.mark.parametrize("wrong", TOML_WRONG, ids=repr)
def test_a_pyproject_configuration_says_toml_values_in_the_project_words(wrong: Any, tmp_path: Path) -> None:
    # TOML has dates and times of its own: they are shown as written, never as Python objects.
    names = frozenset(models_of(Settings)) | {"datetime"}
    for key in Settings.model_fields:
        (tmp_path / "pyproject.toml").write_text(f"[tool.policycheck]\n{key} = {toml(wrong)}\n", encoding="utf-8")
        lines = _lines(lambda: load_config(tmp_path / "pyproject.toml"))
        for line in lines:
            check_line(line, "pyproject.toml", names)
        if refused(Settings, (key,), wrong):
            assert any(f"pyproject.toml:2:1: {key}: " in ln for ln in lines), (key, wrong, lines)


def test_the_sample_of_a_case_is_valid_where_the_schema_is_concerned() -> None:
    # The walk above starts from a document whose only problems are cross-references, so the
    # messages it checks are the ones each wrong value causes.
    lines = _lines(lambda: load_case_text(_text_of(sample(Case)), "case.yaml"))
    assert not any(w in ln for ln in lines for w in ("invalid value", "required field", "unknown field")), lines


# --------------------------------------------------------------------------- the two examples of issue 11

BAD = """\
schema_version: 2
id: x
title: t
kind: [licence]
as_of: "2030-01-01"
summary: x
sources: [{id: s, title: g, date: unknown, kind: primary}]
parties: [{id: p0, name: L, roles: [fm_developer]}]
licences:
- id: l0
  name: L
  kind: model_licence
  licensor: p0
  versions:
  - version: 1.0
    date: "2001-01-01"
    terms: {output_training_ban: yes}
"""


def test_an_unquoted_version_is_told_to_be_quoted() -> None:
    lines = _lines(lambda: load_case_text(BAD, "bad.yaml"))
    assert lines[0] == ('bad.yaml:15:5: licences[0].versions[0].version: invalid value 1.0: '
                        'expected text (a number here; quote it: "1.0")')


def test_the_quote_hint_keeps_the_number_as_written() -> None:
    """``1.10`` is read as the number 1.1; quoting that would change the version's name."""
    lines = _lines(lambda: load_case_text(BAD.replace("version: 1.0\n", "version: 1.10\n"), "bad.yaml"))
    assert lines[0] == ('bad.yaml:15:5: licences[0].versions[0].version: invalid value 1.10: '
                        'expected text (a number here; quote it: "1.10")')
    lines = _lines(lambda: load_case_text(BAD.replace("version: 1.0\n", "version: 2_0\n"), "bad.yaml"))
    assert lines[0].endswith('invalid value 2_0: expected text (a number here; quote it: "2_0")')


def test_output_training_ban_asks_for_a_mapping_with_its_fields() -> None:
    lines = _lines(lambda: load_case_text(BAD, "bad.yaml"))
    assert lines[1] == ("bad.yaml:17:13: licences[0].versions[0].terms.output_training_ban: invalid value 'yes': "
                        "expected a mapping with scope (e.g. {scope: competing_models}) or one of: unknown, none")


def test_a_nested_model_is_described_from_its_fields() -> None:
    assert describe_model(OutputTrainingBan) == "a mapping with scope (e.g. {scope: competing_models})"
    assert describe_model(Terms).startswith("a mapping of fields such as weights_access, commercial_use, ")

    class Both(BaseModel):
        name: str
        count: int
        flag: bool = False

    assert describe_model(Both) == "a mapping with name, count (e.g. {name: ..., count: 1})"


def edit(old: str, new: str) -> str:
    assert old in BAD
    return BAD.replace(old, new).replace("version: 1.0", 'version: "1.0"').replace("yes}", "none}")


def one(text: str) -> str:
    lines = _lines(lambda: load_case_text(text, "c.yaml"))
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize(("old", "new", "message"), [
    ('date: "2001-01-01"', "date: 2001",
     'date: invalid value 2001: expected a date in quotes, e.g. "2024-01-31" (a number here; quote it: "2001")'),
    ("kind: [licence]", "kind: licence", "kind: invalid value 'licence': expected a list (write it as a list: [licence])"),
    ("roles: [fm_developer]", "roles: fm_developer",
     "roles: invalid value 'fm_developer': expected a list or one of: unknown (write it as a list: [fm_developer])"),
    ("name: L, roles", "name: [L], roles", "name: invalid value (a list): expected text (a list here; give one value)"),
    ("title: t", 'title: ""', "title: invalid value '': must not be empty"),
    ("id: x", "id: X Y", "id: invalid value 'X Y': expected an id: lower-case letters, digits, '.', '_' and '-', "
     "starting with a letter or digit"),
    ("id: x", "id: " + "x" * 81, "id: invalid value '" + "x" * 39 + "...: too long: 81 characters, at most 80"),
    ("sources: [{id: s, title: g, date: unknown, kind: primary}]", "sources: []",
     "sources: must not be empty: give at least one item"),
    ("terms: {", "terms: {user_threshold: {metric: users, limit: '100', above: fee}, ",
     "user_threshold.limit: invalid value '100': expected a number (text here; write the number without quotes: 100)"),
    ("terms: {", "terms: {royalty: {rate_pct: 101, metric: annual_revenue_usd, limit: 0}, ",
     "royalty.rate_pct: invalid value 101: must be at most 100 (or one of: unknown)"),
    ("terms: {", "terms: {osi_approved: 1, ", "osi_approved: invalid value 1; expected one of: true, false, unknown"),
    ("terms: {", "terms: {acceptable_use_policy: true, ", "acceptable_use_policy: invalid value true: expected a "
     "mapping with incorporated_by_reference, licensor_may_update (e.g. {incorporated_by_reference: true, "
     "licensor_may_update: true}) or one of: unknown, none"),
])
def test_wrong_kinds_are_said_with_a_hint(old: str, new: str, message: str) -> None:
    line = one(edit(old, new))
    assert line.endswith(message), line
    check_line(line, "c.yaml", frozenset(models_of(Case)))


def test_a_whole_number_given_a_fraction() -> None:
    from policycheck.model.case import StaffHire

    class Deal(BaseModel):
        model_config = ConfigDict(strict=True)
        staff: StaffHire

    from policycheck.io.schema_errors import problems_from

    doc = parse_document("staff: {count: 2.5}\n", "d.yaml")
    with pytest.raises(ValidationError) as caught:
        Deal.model_validate(doc.data)
    line = problems_from(caught.value, doc, Deal)[0].render()
    assert line == "d.yaml:1:9: staff.count: invalid value 2.5: expected a whole number or one of: unknown (2.5 has a fraction)"


def test_a_refused_mapping_key_is_said_as_a_key() -> None:
    doc = parse_document("tests:\n- name: a sentence, long enough\n  case_file: x.yaml\n"
                         "  expect: {fires: true, conditions: {C9: concern}}\n", "f.test.yaml")
    from policycheck.io.schema_errors import problems_from

    with pytest.raises(ValidationError) as caught:
        FixtureFile.model_validate(doc.data)
    lines = [p.render() for p in problems_from(caught.value, doc, FixtureFile)]
    assert lines == ["f.test.yaml:4:38: tests[0].expect.conditions.C9: invalid key 'C9'; expected one of: "
                     "C1, C2, C3, C4, OTC, JUR"]


def test_a_number_choice_is_listed_as_written() -> None:
    lines = _lines(lambda: waivers_from_document(parse_document("schema_version: 2\nwaivers: []\n", "w.yaml")))
    assert lines == ["w.yaml:1:1: schema_version: invalid value 2; expected one of: 1"]


def test_a_scalar_where_a_list_of_licences_goes_is_an_error_not_a_crash() -> None:
    # Found by the walk above: the case loader's size check iterated `licences: 1.5`.
    text = BAD.replace("licences:\n- id: l0", "licences: 1.5\nx:\n- id: l0")
    lines = _lines(lambda: load_case_text(text, "c.yaml"))
    assert "c.yaml:9:1: licences: invalid value 1.5: expected a list (write it as a list: [1.5])" in lines


# --------------------------------------------------------------------------- usage errors

def usage(*args: str) -> tuple[str, str]:
    """The two stderr lines of a usage error (asserting exit 2, nothing on stdout, two lines)."""
    res = CliRunner().invoke(main, list(args))
    assert res.exit_code == 2 and res.stdout == "", (res.exit_code, res.stdout, res.stderr)
    lines = res.stderr.splitlines()
    assert len(lines) == 2, lines
    return lines[0], lines[1]


@pytest.mark.parametrize(("args", "line"), [
    (["assess", "--fail-onn", "x"], "error: policycheck assess --fail-onn: no such option (did you mean '--fail-on'?)"),
    (["assess", "cases", "--fail-on", "hihg"], "error: policycheck assess --fail-on: invalid value 'hihg'; expected one "
     "of: info, low, medium, high, none (did you mean 'high'?)"),
    (["assess"], "error: policycheck assess PATHS: missing argument"),
    (["diff", "a.yaml"], "error: policycheck diff NEW: missing argument"),
    (["asess"], "error: policycheck asess: no such command (did you mean 'assess'?)"),
    (["assess", "cases", "--format"], "error: policycheck assess --format: needs a value"),
    (["assess", "cases", "--markdown-limit", "x"], "error: policycheck assess --markdown-limit: invalid value 'x': "
     "expected a whole number"),
    (["assess", "cases", "--markdown-limit", "-1"], "error: policycheck assess --markdown-limit: invalid value -1: "
     "must be at least 0"),
    (["assess", "cases", "--today", "2020"], "error: policycheck assess --today: invalid value '2020': expected a "
     "date as YYYY-MM-DD"),
    (["lint", "no/such/folder"], "error: policycheck lint RULES_DIR: folder 'no/such/folder' does not exist"),
    (["schema", "extra"], "error: policycheck schema: unexpected extra argument 'extra'"),
    (["assess", "cases", "--no-bundled"], "error: policycheck assess: --no-bundled needs at least one --rules DIR"),
    (["--frob"], "error: policycheck --frob: no such option"),
])
def test_usage_errors_have_the_shape_of_file_errors(args: list[str], line: str) -> None:
    first, last = usage(*args)
    assert first == line
    command = args[0] if args[0] in main.commands else ""
    assert last == f"policycheck: usage error; see 'policycheck{' ' + command if command else ''} --help'"


@pytest.mark.parametrize("command", sorted(main.commands))
def test_every_command_says_a_bad_option_in_one_line(command: str) -> None:
    first, last = usage(command, "--no-such-option")
    assert first.startswith(f"error: policycheck {command} --no-such-option: no such option"), first
    assert last == f"policycheck: usage error; see 'policycheck {command} --help'"
    assert not PYDANTIC.search(first) and "Usage:" not in first and "Try '" not in first


def test_a_usage_error_line_is_escaped() -> None:
    first, _ = usage("assess", "--x\x1b[31m\nerror: forged")
    assert first == "error: policycheck assess --x\\x1b[31m\\x0aerror: forged: no such option"


@pytest.mark.parametrize("command", ["", *sorted(main.commands)])
def test_help_is_untouched(command: str) -> None:
    res = CliRunner().invoke(main, [command, "--help"] if command else ["--help"])
    assert res.exit_code == 0 and res.stderr == ""
    assert res.stdout.startswith(f"Usage: policycheck{' ' + command if command else ''} [OPTIONS]")
    assert "Options:" in res.stdout and "error:" not in res.stdout


def test_a_bare_policycheck_still_prints_the_help() -> None:
    res = CliRunner().invoke(main, [])
    assert "Commands:" in res.output and "assess" in res.output and "error:" not in res.output
