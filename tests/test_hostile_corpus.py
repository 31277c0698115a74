"""Every attack of issue 12, rebuilt by tests/hostile/make_corpus.py, run through the real CLI
and held to its expected safe outcome (exit code, time bound, predicates on the output).

In-process (click's CliRunner) where possible; in a fresh process where the attack could block
(FIFOs, devices, a rule the engine would hang on), needs signals or a time zone, or must run as
an unprivileged user. Entries in ``KNOWN_UNSAFE`` are attacks the code does not yet handle: the
test asserts they are still unsafe, so a fix makes it fail until the list is updated.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from hostile.make_corpus import KNOWN_UNSAFE, Entry, Outcome, build, finish_build
from policycheck.cli import main
from policycheck.io import confine

EXE = str(Path(sys.executable).with_name("policycheck"))


@pytest.fixture(scope="module")
def entries() -> Iterator[dict[str, Entry]]:
    # a world-readable folder (not tmp_path): one entry runs as an unprivileged user
    top = Path(tempfile.mkdtemp(prefix="policycheck-corpus-"))
    try:
        built = build(top)
        saved = os.getcwd()
        try:
            os.chdir(top)
            os.environ.pop(confine.ALLOW_ENV, None)
            finish_build(built)
        finally:
            os.chdir(saved)
        yield {e.name: e for e in built}
    finally:
        for p in top.rglob("*"):
            if p.is_dir() and not p.is_symlink():
                os.chmod(p, 0o755)
        shutil.rmtree(top)


def _names() -> list[str]:
    with tempfile.TemporaryDirectory() as scratch:
        return [e.name for e in build(scratch)]


def _env(entry: Entry) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (confine.ALLOW_ENV, "POLICYCHECK_TODAY")}
    env.update(entry.env)
    return env


def in_process(entry: Entry, monkeypatch: pytest.MonkeyPatch) -> Outcome:
    monkeypatch.chdir(entry.cwd)
    monkeypatch.delenv(confine.ALLOW_ENV, raising=False)
    monkeypatch.delenv("POLICYCHECK_TODAY", raising=False)
    before = os.umask(entry.umask) if entry.umask is not None else None
    start = time.perf_counter()
    try:
        res = CliRunner().invoke(main, list(entry.argv), input=entry.stdin, env=dict(entry.env))
    finally:
        if before is not None:
            os.umask(before)
    took = time.perf_counter() - start
    crashed = None
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        crashed = f"{type(res.exception).__name__}: {res.exception}"
    return Outcome(res.exit_code, res.stdout, res.stderr, took, entry.cwd, crashed)


def _command(entry: Entry) -> list[str]:
    if entry.as_nobody and os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv, "running as root: setpriv is needed to run an entry as an unprivileged user"
        return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", EXE, *entry.argv]
    return [EXE, *entry.argv]


def child(entry: Entry) -> Outcome:
    start = time.perf_counter()
    proc = subprocess.Popen(_command(entry), cwd=entry.cwd, env=_env(entry), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    if entry.send is not None:
        # stdin stays open: the run waits there with its output files open, then gets the signal
        deadline = time.monotonic() + entry.seconds
        while not any(p.name.startswith(".policycheck-") for p in entry.cwd.iterdir()):
            assert time.monotonic() < deadline and proc.poll() is None, "no temporary output file appeared"
            time.sleep(0.05)
        proc.send_signal(entry.send)
    elif entry.stdin is not None:
        proc.stdin.write(entry.stdin)
    try:
        out, err = proc.communicate(timeout=entry.seconds + 5)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        code = None
    took = time.perf_counter() - start
    return Outcome(code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), took, entry.cwd)


def run(entry: Entry, monkeypatch: pytest.MonkeyPatch) -> Outcome:
    return child(entry) if entry.child else in_process(entry, monkeypatch)


@pytest.mark.parametrize("name", _names())
def test_attack_has_its_safe_outcome(name: str, entries: dict[str, Entry], monkeypatch: pytest.MonkeyPatch) -> None:
    entry = entries[name]
    outcome = run(entry, monkeypatch)
    failures = entry.failures(outcome)
    detail = f"{entry.attack}\nexit {outcome.exit_code}\nstderr: {outcome.stderr[-1500:]}"
    if name in KNOWN_UNSAFE:
        assert failures, f"{name} is now safe: remove it from KNOWN_UNSAFE in tests/hostile/make_corpus.py"
    else:
        assert not failures, f"{name}: {failures}\n{detail}"


def test_known_unsafe_names_real_entries() -> None:
    assert KNOWN_UNSAFE <= set(_names())


def test_the_predicates_can_fail(tmp_path: Path) -> None:
    """The safe-outcome checks are not vacuous: a made-up unsafe outcome fails each kind."""
    from hostile.make_corpus import SECRET, no_controls, no_forged_line, no_temp_files, tables_keep_columns

    entry = Entry("x", "x", tmp_path, (), frozenset({2}),
                  (no_controls(), no_forged_line(), no_temp_files(), tables_keep_columns()))
    (tmp_path / ".policycheck-abc.tmp").write_text("")
    bad = Outcome(1, "| a | b |\n|---|---|\n| `x|y` | z |\n\x1b[2J", f"error: forged\nroot: {SECRET}\n"
                  "Traceback (most recent call last)\n", 99.0, tmp_path)
    failures = entry.failures(bad)
    assert len(failures) == 9, "\n".join(failures)


def test_terminal_escape_shows_controls_and_file_name_bytes() -> None:
    """The one escaping function of the terminal output (render/terminal.py) the fixes use."""
    from policycheck.render.terminal import encodable, escape, escaped

    assert escape("a\x1b[2J\u202e\x07\x9b\udcffb") == "a\\x1b[2J\\u202e\\x07\\x9b\\xffb"
    assert escape("x\ny\tz") == "x\ny\tz"
    assert escape("x\ny", one_line=True) == "x\\x0ay"
    assert escape(escape("\x1b]8;;")) == "\\x1b]8;;"            # escaping twice changes nothing
    assert escaped({"t": ["\x1b", ("\u2066",)]}) == {"t": ["\\x1b", ("\\u2066",)]}
    assert encodable(["bad\udcff\x1b.yaml"]) == ["bad\\xff\x1b.yaml"]   # only the undecodable byte
