"""An atheris harness for long local fuzzing runs of the case, rule, waiver and config readers
through the real command line (see fuzz/README.md). Not run in CI; atheris is imported only
when this file is run.

    .venv/bin/pip install atheris
    .venv/bin/python fuzz/fuzz_case.py [case|rule|waivers|config] [atheris/libFuzzer options]

Each input is written as the chosen kind of file into a scratch folder and the command line
runs on it in-process. A finding is any input after which the run raises, prints a traceback,
exits with a code other than 0, 1 or 2, prints an ``error`` line that is not one located line
(``error: FILE[:LINE[:COL]]: ...``), or takes longer than 10 s.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

KINDS = ("case", "rule", "waivers", "config")


def one_input(kind: str, data: bytes) -> None:
    from click.testing import CliRunner

    from hostile.make_corpus import ERROR_LINE, MINIMAL, TEST_RULES
    from policycheck.cli import main

    assess = ["--no-config", "--no-bundled", "--rules", TEST_RULES]
    with tempfile.TemporaryDirectory(prefix="policycheck-atheris-") as folder:
        here = Path(folder)
        (here / "case.yaml").write_text(MINIMAL, encoding="utf-8")
        if kind == "case":
            (here / "case.yaml").write_bytes(data)
            args = ["assess", "case.yaml", *assess]
        elif kind == "rule":
            (here / "rules" / "fuzz").mkdir(parents=True)
            (here / "rules" / "fuzz" / "rule.yaml").write_bytes(data)
            args = ["assess", "case.yaml", "--no-config", "--no-bundled", "--rules", "rules"]
        elif kind == "waivers":
            (here / "waivers.yaml").write_bytes(data)
            args = ["assess", "case.yaml", *assess, "--waivers", "waivers.yaml", "--today", "2029-12-31"]
        else:
            (here / ".policycheck.yaml").write_bytes(data)
            args = ["assess", "case.yaml", "--config", ".policycheck.yaml", "--no-bundled", "--rules", TEST_RULES]
        saved = os.getcwd()
        os.chdir(here)
        try:
            start = time.perf_counter()
            res = CliRunner().invoke(main, args)
            took = time.perf_counter() - start
        finally:
            os.chdir(saved)
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error")]
    if "Traceback" in res.output or res.exit_code not in (0, 1, 2) or not all(ERROR_LINE.match(e) for e in errors):
        raise AssertionError(f"unsafe outcome: exit {res.exit_code}\n{res.stderr[-2000:]}")
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
