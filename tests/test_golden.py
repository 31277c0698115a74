"""Golden outputs: every bundled case file, assessed alone with the bundled rule pack.

The goldens (tests/golden/, laid out in tests/update_goldens.py's docstring) hold, per case,
the case body of the JSON assessment and the table, markdown, sarif, junit and html outputs
byte for byte (with the pack digest, tool version and pack size replaced by placeholders;
``envelope.json`` holds those once). A difference means a rule, a case file or a renderer
changed what a reviewer reads: look at the diff, and if the new output is right regenerate::

    .venv/bin/python tests/update_goldens.py

and say in CHANGELOG.md which goldens changed and why. This module only reads goldens; a
test run never writes one (conftest.py refuses to run with POLICYCHECK_UPDATE_GOLDEN set).
What the goldens must say, independently of their bytes, is in tests/expectations/ and
tests/test_expectations.py.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import update_goldens as U
from conftest import GOLDEN_UPDATE_VAR, golden_update_refusal

ROOT = U.ROOT
CASE_FILES = U.case_files()


@pytest.fixture(scope="module")
def current() -> dict[Path, str]:
    """What the current code gives every golden file (computed once: ~6 s)."""
    return U.expected()


@pytest.fixture(scope="module")
def envelope() -> dict[str, object]:
    data: dict[str, object] = json.loads(U.ENVELOPE.read_text(encoding="utf-8"))
    return data


def _ids() -> list[str]:
    from policycheck.load.cases import load_case

    return [load_case(ROOT / rel).case.id for rel in CASE_FILES]


CASE_IDS = _ids()


def _show(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _check(path: Path, text: str) -> None:
    assert path.is_file(), f"no golden {_show(path)}; create it with .venv/bin/python tests/update_goldens.py"
    assert text == path.read_text(encoding="utf-8"), (
        f"{_show(path)} differs from the current output; if the change is intended, regenerate with "
        ".venv/bin/python tests/update_goldens.py and record it in CHANGELOG.md")


def test_there_are_bundled_cases_to_assess() -> None:
    assert len(CASE_FILES) >= 15, f"expected at least 15 bundled case files, found {len(CASE_FILES)}"
    assert len(set(CASE_IDS)) == len(CASE_IDS), "case ids name the goldens, so they must be unique"


def test_envelope_matches_the_current_pack_and_version(current: dict[Path, str]) -> None:
    _check(U.ENVELOPE, current[U.ENVELOPE])


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_case_body_matches_golden(case_id: str, current: dict[Path, str]) -> None:
    path = U.CASE_DIR / f"{case_id}.json"
    _check(path, current[path])
    assert "rule_pack" not in json.loads(current[path]), "the envelope belongs in envelope.json only"


@pytest.mark.parametrize("fmt", U.FORMATS)
@pytest.mark.parametrize("rel", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_output_is_byte_identical_to_golden(rel: Path, fmt: str, case_id_of: dict[Path, str],
                                             envelope: dict[str, object]) -> None:
    """The real CLI output equals the golden with the envelope values put back."""
    path = U.OUTPUT_DIR / f"{case_id_of[rel]}.{fmt}"
    text, code = U.run_cli(rel, fmt)
    assert code in (0, 1), text
    assert path.is_file(), f"no golden {_show(path)}; create it with .venv/bin/python tests/update_goldens.py"
    golden = path.read_text(encoding="utf-8")
    assert text == U.denormalise(golden, envelope), f"{_show(path)} differs from `policycheck assess {rel} --format {fmt}`"
    assert U.normalise(text, envelope) == golden, f"{_show(path)} is not the normalised output (envelope leaked?)"


@pytest.fixture(scope="module")
def case_id_of() -> dict[Path, str]:
    return dict(zip(CASE_FILES, CASE_IDS))


@pytest.mark.parametrize("rel", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_json_output_is_the_envelope_around_the_case_body(rel: Path, case_id_of: dict[Path, str],
                                                          envelope: dict[str, object]) -> None:
    text, _ = U.run_cli(rel, "json")
    data = json.loads(text)
    assert {k: data[k] for k in ("tool", "version", "rule_pack")} == envelope
    body = json.loads((U.CASE_DIR / f"{case_id_of[rel]}.json").read_text(encoding="utf-8"))
    assert data["cases"] == [body]
    assert data["summary"].startswith("1 case, ")
    assert set(data) == {"tool", "version", "rule_pack", "summary", "cases"}


def test_cli_goldens_match(current: dict[Path, str]) -> None:
    cli = sorted(p for p in current if p.parent == U.CLI_DIR)
    assert [p.name for p in cli] == ["llama-2.json", "llama-2.table.txt"]
    for path in cli:
        _check(path, current[path])


def test_every_golden_belongs_to_a_bundled_case(current: dict[Path, str]) -> None:
    stale = U.stale(current)
    assert not stale, f"goldens no case produces: {[_show(p) for p in stale]}; run tests/update_goldens.py"
    assert {p.stem for p in U.CASE_DIR.glob("*.json")} == set(CASE_IDS)
    assert {p.name for p in U.OUTPUT_DIR.iterdir()} == {f"{c}.{f}" for c in CASE_IDS for f in U.FORMATS}


def test_no_golden_output_holds_the_envelope_values(envelope: dict[str, object]) -> None:
    pack = envelope["rule_pack"]
    assert isinstance(pack, dict)
    for path in U.OUTPUT_DIR.iterdir():
        text = path.read_text(encoding="utf-8")
        assert str(pack["digest"]) not in text, _show(path)
        assert f"policycheck {envelope['version']}" not in text, _show(path)
    for path in U.CASE_DIR.iterdir():
        assert str(pack["digest"]) not in path.read_text(encoding="utf-8"), _show(path)


# --------------------------------------------------------------------------- normalisation


ENV: dict[str, object] = {"tool": "policycheck", "version": "1.2.3", "rule_pack": {"digest": "0123456789abcdef",
                                                                                  "rules": 7}}


@pytest.mark.parametrize("text, normal", [
    ("<p>policycheck 1.2.3 · rule pack <code>0123456789abcdef</code> (7 rules)</p>\n",
     "<p>policycheck @VERSION@ · rule pack <code>@PACK_DIGEST@</code> (@PACK_RULES@ rules)</p>\n"),
    ('"rulePack": "0123456789abcdef",\n      "rules": 7\n', '"rulePack": "@PACK_DIGEST@",\n      "rules": @PACK_RULES@\n'),
    ('"semanticVersion": "1.2.3",\n"version": "1.2.3"', '"semanticVersion": "@VERSION@",\n"version": "@VERSION@"'),
    # not the envelope: left alone
    ('"version": "2.1.0", "rules": 7, 17 rules, (70 rules), policycheck 1.2.30',
     '"version": "2.1.0", "rules": 7, 17 rules, (70 rules), policycheck 1.2.30'),
])
def test_normalisation_replaces_only_the_envelope_values(text: str, normal: str) -> None:
    assert U.normalise(text, ENV) == normal
    assert U.denormalise(normal, ENV) == text


# --------------------------------------------------------------------------- no test writes a golden


def test_the_guard_refuses_the_update_switch() -> None:
    assert golden_update_refusal({}) is None
    assert golden_update_refusal({"PATH": "/bin"}) is None
    for value in ("1", "0", ""):
        refusal = golden_update_refusal({GOLDEN_UPDATE_VAR: value})
        assert refusal is not None and "update_goldens.py" in refusal


def test_a_test_session_with_the_update_switch_fails_before_running_anything() -> None:
    env = {**os.environ, GOLDEN_UPDATE_VAR: "1"}
    before = {p: p.read_bytes() for p in U.GOLDEN.rglob("*") if p.is_file()}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests/test_golden.py::test_there_are_bundled_cases_to_assess"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0, proc.stdout
    assert f"{GOLDEN_UPDATE_VAR} is set" in proc.stdout + proc.stderr
    assert "1 passed" not in proc.stdout
    assert {p: p.read_bytes() for p in U.GOLDEN.rglob("*") if p.is_file()} == before


def test_no_test_module_writes_into_the_golden_folder() -> None:
    """Only tests/update_goldens.py may read the update switch or write in a function about goldens."""
    offenders = []
    for path in sorted((ROOT / "tests").glob("*.py")):
        if path.name in ("update_goldens.py", "conftest.py", "test_golden.py"):
            continue
        source = path.read_text(encoding="utf-8")
        if GOLDEN_UPDATE_VAR in source:
            offenders.append(f"{path.name}: reads {GOLDEN_UPDATE_VAR}")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef):
                body = ast.get_source_segment(source, node) or ""
                if "golden" in body.lower() and any(w in body for w in (".write_text(", ".write_bytes(", "unlink(")):
                    offenders.append(f"{path.name}: {node.name} writes near a golden")
    assert not offenders, offenders
