"""The terminal (issue 11, item 4), under a pseudo-terminal: the progress bar on stderr only
when stderr is a terminal, never in a pipe, never with --quiet (POLICYCHECK_PROGRESS_AFTER=0
shows it at once; it normally waits for runs over a second). With stdout and stderr both on a
100-column (or 72-column) pty, as a user runs it: colour by severity and status, no line wider
than the terminal, and the screen, once the bar has come and gone, reads exactly as the piped
output (the bar never overwrites or erases a line of the table). NO_COLOR and --no-color turn
the colour off; a pipe gets none and 100 columns."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from review_support import write_case, write_rules

from policycheck.render.terminal import display_width

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


# --------------------------------------------------------------------------- a real terminal

REAL = ["cases/deals/aws-stability.yaml", "cases/deals/amazon-anthropic.yaml"]   # long ids, wide text
SGR = re.compile(r"\x1b\[[0-9;]*m")


def _on_a_terminal(argv: list[str], columns: int, **extra: str) -> str:
    """What a ``columns``-wide terminal receives when stdout and stderr are both on it."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    environ = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    environ.update(TERM="xterm-256color", POLICYCHECK_TODAY="2026-01-01", **extra)
    proc = subprocess.Popen([sys.executable, "-m", "policycheck", *argv], stdin=slave, stdout=slave, stderr=slave,
                            cwd=ROOT, env=environ)
    os.close(slave)
    chunks = []
    try:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:   # EIO: the program is gone and everything was read
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        proc.wait(timeout=120)
    return b"".join(chunks).decode("utf-8")


def _screen(raw: str) -> list[str]:
    """The lines a terminal shows for ``raw``: carriage returns, erase-to-end-of-line and
    colour applied (colour dropped), one entry per line."""
    lines, col = [""], 0
    for token in re.findall(r"\x1b\[[0-9;]*[A-Za-z]|\r|\n|[^\x1b\r\n]+", raw):
        line = lines[-1]
        if token == "\n":
            lines.append("")
            col = 0
        elif token == "\r":
            col = 0
        elif token == "\x1b[K":
            lines[-1] = line[:col]
        elif token.startswith("\x1b["):
            continue
        else:
            lines[-1] = line[:col] + token + line[col + len(token):]
            col += len(token)
    return lines[:-1] if lines[-1] == "" else lines


@pytest.fixture(scope="module")
def terminal() -> dict[str, str]:
    argv = ["assess", "--no-config", *REAL]
    piped = subprocess.run([sys.executable, "-m", "policycheck", *argv], capture_output=True, text=True, cwd=ROOT,
                           timeout=120, env={**os.environ, "POLICYCHECK_TODAY": "2026-01-01"})
    assert piped.returncode == 0 and piped.stderr == "", piped.stderr
    return {"piped": piped.stdout,
            "100": _on_a_terminal(argv, 100, POLICYCHECK_PROGRESS_AFTER="0"),
            "72": _on_a_terminal(argv, 72)}


@pytest.mark.parametrize("columns", ["100", "72"])
def test_no_line_is_wider_than_the_terminal(terminal, columns):
    lines = _screen(terminal[columns])
    widths = [display_width(x) for x in lines]
    assert max(widths) <= int(columns)
    assert max(widths) >= int(columns) - 4      # wrapped to this terminal, not to a fixed width
    assert any(display_width(x) > len(x) for x in lines)   # the wide (CJK) quote is there and counted


def test_colour_by_severity_and_status_on_a_terminal_only(terminal):
    raw = terminal["100"]
    assert "\x1b[1;31mhigh" in raw and "\x1b[1;31mconcern" in raw and "\x1b[33mwatch" in raw
    assert "\x1b[" not in terminal["piped"]
    assert max(len(x) for x in terminal["piped"].splitlines()) <= 100


def test_the_bar_comes_and_goes_without_touching_the_table(terminal):
    raw = terminal["100"]
    assert "assessing [" in raw                                  # it was drawn ...
    assert _screen(raw) == terminal["piped"].splitlines()       # ... and the screen reads as the pipe
    assert all(raw[m.start() - 1] in "\nK" for m in re.finditer(r"\r(reading|assessing) \[", raw))


@pytest.mark.parametrize("how", [{"NO_COLOR": "1"}, {"argv": "--no-color"}])
def test_no_color_and_NO_COLOR_on_a_terminal(env, how):
    argv = ["assess", "--no-config", "--no-bundled", "--rules", str(env["rules"]), str(env["cases"])]
    extra = {k: v for k, v in how.items() if k != "argv"}
    raw = _on_a_terminal(argv + ([how["argv"]] if "argv" in how else []), 100, **extra)
    assert "== c0" in raw and not SGR.search(raw)
