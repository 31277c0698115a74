"""The progress bar (issue 11, item 4): on stderr, only when stderr is a terminal (here a
pseudo-terminal), never in a pipe, never with --quiet. POLICYCHECK_PROGRESS_AFTER=0 shows it
at once (it normally waits for runs over a second)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from review_support import write_case, write_rules

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("progress")
    rules = write_rules(d)
    cases = d / "cases"
    cases.mkdir()
    for i in range(3):
        write_case(cases, f"c{i}.yaml", case_id=f"c{i}")
    return {"rules": rules, "cases": cases}


def _run(env: dict[str, Path], *extra: str, tty: bool) -> tuple[str, str]:
    """(stdout, what reached stderr) of one run, stderr on a pseudo-terminal when ``tty``."""
    argv = [sys.executable, "-m", "policycheck", "assess", "--no-config", "--no-bundled", "--rules",
            str(env["rules"]), str(env["cases"]), *extra]
    environ = {**os.environ, "POLICYCHECK_PROGRESS_AFTER": "0", "COLUMNS": "100"}
    if not tty:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=ROOT, env=environ)
        return proc.stdout, proc.stderr
    master, slave = pty.openpty()
    try:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=slave, text=True, timeout=120, cwd=ROOT,
                              env=environ)
        os.close(slave)
        slave = -1
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:   # EIO: the other side is closed and everything was read
                break
            if not data:
                break
            chunks.append(data)
        return proc.stdout, b"".join(chunks).decode("utf-8", errors="replace")
    finally:
        os.close(master)
        if slave != -1:
            os.close(slave)


def test_progress_bar_on_a_terminal(env):
    out, err = _run(env, tty=True)
    assert "assessing [" in err and "3/3" in err
    assert err.rstrip("\r\n").endswith("\x1b[K")   # erased at the end
    assert "\r" not in out and "assessing" not in out


def test_no_progress_bar_in_a_pipe_or_with_quiet(env):
    _, err = _run(env, tty=False)
    assert "assessing" not in err and "\r" not in err
    _, quiet = _run(env, "-q", tty=True)
    assert "assessing" not in quiet
