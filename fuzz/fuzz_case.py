"""An atheris harness for long local fuzzing runs of the case, rule, waiver, config, baseline
and assessment (JSON, JSON Lines) readers through the real command line: the same kinds of
file as tests/test_fuzz.py (see fuzz/README.md). Not run in CI; atheris is imported only when
this file is run.

    .venv/bin/pip install atheris
    .venv/bin/python fuzz/fuzz_case.py [case|rule|waivers|config|baseline|assessment|jsonl] [libFuzzer options]

Each input is written as the chosen kind of file into a scratch folder and the command line
runs on it in-process (an assessment both as ``--baseline`` and as one side of ``diff``). A
finding is any input after which the run raises, prints a traceback, exits with a code other
than 0, 1 or 2, prints an ``error`` line that is not one located line
(``error: FILE[:LINE[:COL]]: ...``), on exit 2 prints a line that is neither an error located
at a line nor the ``policycheck:`` summary, or takes longer than 10 s.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

KINDS = ("case", "rule", "waivers", "config", "baseline", "assessment", "jsonl")
LOCATED = re.compile(r"^error: [^\s:][^:]*:\d+(:\d+)?: \S")


def runs(kind: str, here: Path, data: bytes) -> list[list[str]]:
    """Write ``data`` as a file of ``kind`` under ``here``; the command lines that read it."""
    from hostile.make_corpus import TEST_RULES

    assess = ["--no-config", "--no-bundled", "--rules", TEST_RULES]
    if kind == "case":
        (here / "case.yaml").write_bytes(data)
        return [["assess", "case.yaml", *assess]]
    if kind == "rule":
        (here / "rules" / "fuzz").mkdir(parents=True)
        (here / "rules" / "fuzz" / "rule.yaml").write_bytes(data)
        return [["assess", "case.yaml", "--no-config", "--no-bundled", "--rules", "rules"]]
    if kind == "waivers":
        (here / "waivers.yaml").write_bytes(data)
        return [["assess", "case.yaml", *assess, "--waivers", "waivers.yaml", "--today", "2029-12-31"]]
    if kind == "config":
        (here / ".policycheck.yaml").write_bytes(data)
        return [["assess", "case.yaml", "--config", ".policycheck.yaml", "--no-bundled", "--rules", TEST_RULES]]
    if kind == "baseline":
        (here / "baseline.json").write_bytes(data)
        return [["assess", "case.yaml", *assess, "--baseline", "baseline.json", "--fail-on", "low"]]
    name = "a.json" if kind == "assessment" else "a.jsonl"
    (here / name).write_bytes(data)
    seed = "seed.json" if kind == "assessment" else "seed.jsonl"
    from click.testing import CliRunner

    from policycheck.cli import main

    CliRunner().invoke(main, ["assess", "case.yaml", *assess, "--exit-zero", "-q", "-o",
                              f"{'json' if kind == 'assessment' else 'jsonl'}:{seed}"])
    return [["assess", "case.yaml", *assess, "--baseline", name], ["diff", seed, name, *assess]]


def one_input(kind: str, data: bytes) -> None:
    from click.testing import CliRunner

    from hostile.make_corpus import MINIMAL
    from policycheck.cli import main

    with tempfile.TemporaryDirectory(prefix="policycheck-atheris-") as folder:
        here = Path(folder)
        (here / "case.yaml").write_text(MINIMAL, encoding="utf-8")
        saved = os.getcwd()
        os.chdir(here)
        try:
            for args in runs(kind, here, data):
                start = time.perf_counter()
                res = CliRunner().invoke(main, args)
                check(res, time.perf_counter() - start)
        finally:
            os.chdir(saved)


def check(res: Any, took: float) -> None:
    from hostile.make_corpus import ERROR_LINE

    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    lines = res.stderr.splitlines()
    errors = [ln for ln in lines if ln.startswith("error")]
    if "Traceback" in res.output or res.exit_code not in (0, 1, 2) or not all(ERROR_LINE.match(e) for e in errors):
        raise AssertionError(f"unsafe outcome: exit {res.exit_code}\n{res.stderr[-2000:]}")
    if res.exit_code == 2 and not (errors and all(LOCATED.match(ln) or ln.startswith("policycheck: ") for ln in lines)):
        raise AssertionError(f"exit 2 without one located error line per problem:\n{res.stderr[-2000:]}")
    if took > 10:
        raise AssertionError(f"took {took:.1f} s")


def main(argv: list[str]) -> None:
    import atheris  # type: ignore[import-untyped,import-not-found,unused-ignore]  # only here: not a CI dependency

    kind = argv[1] if len(argv) > 1 and argv[1] in KINDS else "case"
    rest = [argv[0], *(a for a in argv[1:] if a not in KINDS)]
    atheris.instrument_all()
    atheris.Setup(rest, lambda data: one_input(kind, data))
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
