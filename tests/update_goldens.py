"""Write the golden files: the ONLY way a golden is (re)written. Tests only read them.

Run from anywhere::

    .venv/bin/python tests/update_goldens.py          # rewrite every golden, delete stale ones
    .venv/bin/python tests/update_goldens.py --check  # list goldens that would change; exit 1 if any

What ``tests/golden/`` holds, for every bundled case file ``cases/**/<file>.yaml`` (assessed
alone, with the bundled rule pack, from the repository root, ``POLICYCHECK_TODAY=2026-01-01``):

* ``cases/<case id>.json``: the case body, ``Assessment.cases[0]`` dumped as stable JSON
  (sorted keys, two-space indent). It holds no pack digest and no tool version.
* ``outputs/<case id>.<fmt>`` for fmt in table, markdown, sarif, junit, html: exactly what
  ``policycheck assess <file> --format <fmt>`` prints (stdout and stderr), after the
  substitution below.
* ``cli/llama-2.table.txt`` and ``cli/llama-2.json``: stdout of ``policycheck assess
  cases/licences/llama-2.yaml --no-config --no-bundled --rules tests/data/rules`` (table, json)
  without ``POLICYCHECK_TODAY``; tests/test_cli.py compares with them. They use the fixed test
  pack, so they are not normalised.
* ``envelope.json``: the one file that records which tool version and rule pack produced
  the goldens (``tool``, ``version``, ``rule_pack.digest``, ``rule_pack.rules``).

Substitution (``normalise``): so that one rule edit does not touch every output file, the
outputs store these placeholders instead of the values in ``envelope.json``:

* ``@PACK_DIGEST@`` for every occurrence of the pack digest (16 hex digits);
* ``@VERSION@`` for the tool version where the formats print it: ``policycheck <v>``
  (markdown, html) and ``"version": "<v>"`` / ``"semanticVersion": "<v>"`` (sarif);
* ``@PACK_RULES@`` for the pack's rule count where it is printed as the pack size:
  ``(<n> rules)`` (markdown, html) and ``"rules": <n>`` next to ``"rulePack"`` (sarif).

The substitution is exact and reversible for these outputs: ``denormalise`` puts the values
back, and the golden test compares the real output byte for byte with the denormalised golden.
(The sarif driver still lists every rule's text, so a rule's wording change does show in
every sarif golden; that is content, not an envelope.)

After regenerating, read ``git diff tests/golden`` and say in CHANGELOG.md which goldens
changed and why.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "cases"
GOLDEN = ROOT / "tests" / "golden"
CASE_DIR = GOLDEN / "cases"
OUTPUT_DIR = GOLDEN / "outputs"
ENVELOPE = GOLDEN / "envelope.json"
CLI_DIR = GOLDEN / "cli"
FORMATS = ("table", "markdown", "sarif", "junit", "html")
TODAY = "2026-01-01"

DIGEST, VERSION, RULES = "@PACK_DIGEST@", "@VERSION@", "@PACK_RULES@"


def dump(data: object) -> str:
    """Stable JSON, as ``Assessment.to_json`` writes it."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _version_patterns(version: str) -> list[tuple[str, str]]:
    v = re.escape(version)
    return [(rf"policycheck {v}\b", f"policycheck {VERSION}"),
            (rf'"version": "{v}"', f'"version": "{VERSION}"'),
            (rf'"semanticVersion": "{v}"', f'"semanticVersion": "{VERSION}"')]


def normalise(text: str, envelope: dict[str, object]) -> str:
    """Replace the pack digest, tool version and pack size by placeholders (see module doc)."""
    pack = envelope["rule_pack"]
    assert isinstance(pack, dict)
    digest, rules = str(pack["digest"]), int(pack["rules"])
    text = text.replace(digest, DIGEST)
    for pattern, repl in _version_patterns(str(envelope["version"])):
        text = re.sub(pattern, repl, text)
    text = re.sub(rf"\({rules} rules\)", f"({RULES} rules)", text)
    text = re.sub(rf'("rulePack": "{re.escape(DIGEST)}",\n\s*"rules": ){rules}\b', rf"\g<1>{RULES}", text)
    return text


def denormalise(text: str, envelope: dict[str, object]) -> str:
    pack = envelope["rule_pack"]
    assert isinstance(pack, dict)
    return (text.replace(DIGEST, str(pack["digest"])).replace(VERSION, str(envelope["version"]))
            .replace(RULES, str(pack["rules"])))


@contextmanager
def _at_root() -> Iterator[None]:
    old, old_today = Path.cwd(), os.environ.get("POLICYCHECK_TODAY")
    os.chdir(ROOT)
    os.environ["POLICYCHECK_TODAY"] = TODAY
    try:
        yield
    finally:
        os.chdir(old)
        if old_today is None:
            os.environ.pop("POLICYCHECK_TODAY", None)
        else:
            os.environ["POLICYCHECK_TODAY"] = old_today


def case_files() -> list[Path]:
    from policycheck.load.cases import iter_case_files

    return [p.relative_to(ROOT) for p in iter_case_files([CASES])]


def run_cli(rel: Path, fmt: str) -> tuple[str, int]:
    """``policycheck assess <rel> --format <fmt>`` from the repository root: output (stdout and
    stderr, as a shell's ``2>&1`` gives them) and exit code."""
    from click.testing import CliRunner

    from policycheck.cli import main

    with _at_root():
        result = CliRunner().invoke(main, ["assess", str(rel), "--format", fmt], catch_exceptions=False)
    return result.output, result.exit_code


def _cli_goldens() -> dict[Path, str]:
    """The tests/test_cli.py goldens: the llama-2 case with the fixed test pack."""
    from click.testing import CliRunner

    from policycheck.cli import main

    args = ["assess", "cases/licences/llama-2.yaml", "--no-config", "--no-bundled", "--rules", "tests/data/rules"]
    out: dict[Path, str] = {}
    with _at_root():
        today = os.environ.pop("POLICYCHECK_TODAY")
        try:
            for name, extra in (("llama-2.table.txt", []), ("llama-2.json", ["--format", "json"])):
                result = CliRunner().invoke(main, args + extra, catch_exceptions=False)
                assert result.exit_code == 0, result.output
                out[CLI_DIR / name] = result.stdout
        finally:
            os.environ["POLICYCHECK_TODAY"] = today
    return out


def expected() -> dict[Path, str]:
    """Every golden file and the text the current code gives it."""
    from policycheck.api import assess
    from policycheck.load.cases import load_case
    from policycheck.load.rules import load_rules

    pack = load_rules()
    files: dict[Path, str] = {}
    envelope: dict[str, object] | None = None
    with _at_root():
        loaded = [load_case(rel) for rel in case_files()]
        for case in loaded:
            data = json.loads(assess(case, pack).to_json())
            head = {"tool": data["tool"], "version": data["version"], "rule_pack": data["rule_pack"]}
            assert envelope in (None, head), "cases assessed with one pack must share one envelope"
            envelope = head
            (body,) = data["cases"]
            files[CASE_DIR / f"{case.case.id}.json"] = dump(body)
    assert envelope is not None, "no bundled cases"
    files[ENVELOPE] = dump(envelope)
    for rel, case in zip(case_files(), loaded):
        for fmt in FORMATS:
            text, _ = run_cli(rel, fmt)
            files[OUTPUT_DIR / f"{case.case.id}.{fmt}"] = normalise(text, envelope)
    files.update(_cli_goldens())
    return files


def stale(files: dict[Path, str]) -> list[Path]:
    """Golden files on disk that no current case produces."""
    on_disk = [*CASE_DIR.glob("*"), *OUTPUT_DIR.glob("*"), *CLI_DIR.glob("*")]
    return sorted(p for p in on_disk if p.is_file() and p not in files)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    files = expected()
    changed = [p for p, text in sorted(files.items())
               if not p.is_file() or p.read_text(encoding="utf-8") != text]
    old = stale(files)
    for p in changed:
        print(f"{'differs' if check else 'wrote'}: {p.relative_to(ROOT)}")
        if not check:
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text := files[p], encoding="utf-8")
            assert p.read_text(encoding="utf-8") == text
    for p in old:
        print(f"{'stale' if check else 'deleted'}: {p.relative_to(ROOT)}")
        if not check:
            p.unlink()
    print(f"{len(files)} goldens, {len(changed)} {'differ' if check else 'written'}, "
          f"{len(old)} {'stale' if check else 'deleted'}")
    return 1 if check and (changed or old) else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    sys.exit(main(sys.argv[1:]))
