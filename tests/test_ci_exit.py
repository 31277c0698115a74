"""Exit codes and the reason line (issue 11, item 1): every exit 1 or 2 of ``assess`` and
``diff`` ends with one ``policycheck: ...`` line on stderr saying what decided it; ``--fail-on
none`` and case-insensitive severities; ``--exit-zero``; Ctrl-C exits 130 and leaves nothing.

All runs use the three-rule test pack (tests/review_support.py) and one-version cases."""

from __future__ import annotations

from pathlib import Path

import pytest
from review_support import BAN, assess, run, write_case, write_rules



@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("exit")
    rules = write_rules(d)
    # acme: ban-outputs (high), research-only (medium), gated (low); b..g: research-only and gated
    cases = d / "cases"
    cases.mkdir()
    write_case(cases, "acme.yaml", case_id="acme", versions=[BAN])
    for name in "bcdefg":
        write_case(cases, f"{name}.yaml", case_id=name)
    return {"dir": d, "rules": rules, "cases": cases, "acme": cases / "acme.yaml"}


def reason(res) -> str:  # type: ignore[no-untyped-def]
    lines = res.stderr.splitlines()
    assert lines, res.stderr
    return lines[-1]


def test_exit_1_names_the_flags_that_tripped_it(env):
    res = assess(env["rules"], env["acme"], "--fail-on", "medium")
    assert res.exit_code == 1
    assert reason(res) == "policycheck: 2 flags at or above medium: ban-outputs@acme, research-only@acme"
    assert res.stdout.startswith("== acme")


def test_the_reason_line_lists_five_then_counts_the_rest(env):
    res = assess(env["rules"], env["cases"], "--fail-on", "low")
    assert res.exit_code == 1
    # 3 flags on acme, 2 on each of b..g (cases in id order, flags highest first)
    assert reason(res) == ("policycheck: 15 flags at or above low: ban-outputs@acme, research-only@acme, gated@acme, "
                           "research-only@b, gated@b, +10 more")


@pytest.mark.parametrize("level", ["HIGH", "High", "high"])
def test_severities_are_case_insensitive(env, level):
    res = assess(env["rules"], env["acme"], "--fail-on", level)
    assert res.exit_code == 1 and reason(res) == "policycheck: 1 flag at or above high: ban-outputs@acme"


def test_fail_on_none_turns_off_a_configured_threshold(env, tmp_path, monkeypatch):
    write_rules(tmp_path)   # inside the configuration's folder (configuration paths are confined to it)
    (tmp_path / ".policycheck.yaml").write_text("fail_on: low\nbundled: false\nrules: [rules]\n")
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    configured = run(["assess", env["acme"]])
    assert configured.exit_code == 1 and "at or above low" in reason(configured)
    off = run(["assess", env["acme"], "--fail-on", "none"])
    assert off.exit_code == 0 and off.stderr == ""
    assert run(["assess", env["acme"], "--fail-on", "NONE"]).exit_code == 0


def test_exit_zero(env):
    res = assess(env["rules"], env["acme"], "--fail-on", "info", "--exit-zero")
    assert res.exit_code == 0 and res.stderr == ""
    bad = env["dir"] / "bad.yaml"
    bad.write_text("schema_version: 2\nid: [\n")
    broken = assess(env["rules"], env["acme"], bad, "--fail-on", "info", "--exit-zero")
    assert broken.exit_code == 2  # bad input is never zeroed
    assert reason(broken) == f"policycheck: 1 file not assessed: {bad}"
    bad.unlink()


def test_exit_2_with_flags_too_says_both_in_one_line(env, tmp_path):
    bad = tmp_path / "zz.yaml"
    bad.write_text("schema_version: 2\nid: zz\ntitel: x\n")
    res = assess(env["rules"], env["acme"], bad, "--fail-on", "high")
    assert res.exit_code == 2
    assert reason(res) == f"policycheck: 1 file not assessed: {bad} (and 1 flag at or above high)"


@pytest.mark.parametrize("command", ["assess", "diff", "test", "lint"])
def test_help_documents_the_exit_codes(command):
    text = run([command, "--help"]).stdout
    assert "0" in text and "1" in text and "2" in text
    if command in ("assess", "diff"):
        assert "Exit codes:" in text and "130" in text and "policycheck: " in text


def test_diff_exit_1_names_the_new_concerns(env, tmp_path):
    old = write_case(tmp_path, "old.yaml", case_id="acme",
                     versions=[{"version": "1.0", "date": "2023-01-01", "terms": {"weights_access": "gated"}}])
    res = run(["diff", "--no-config", "--no-bundled", "--rules", env["rules"], old, env["acme"]])
    assert res.exit_code == 1
    assert reason(res).startswith("policycheck: ") and "new concern" in reason(res)
    assert "ban-outputs@acme" in reason(res) and "research-only@acme" in reason(res)
    zero = run(["diff", "--no-config", "--no-bundled", "--rules", env["rules"], old, env["acme"], "--exit-zero"])
    assert zero.exit_code == 0 and zero.stderr == ""


def test_ctrl_c_exits_130_and_leaves_no_file(env, tmp_path, monkeypatch):
    import policycheck.evaluate

    def interrupted(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    monkeypatch.setattr(policycheck.evaluate, "assess_each", interrupted)
    out = tmp_path / "report.sarif"
    res = assess(env["rules"], env["acme"], "-o", f"sarif:{out}", "-o", f"junit:{tmp_path / 'j.xml'}")
    assert res.exit_code == 130
    assert reason(res) == "policycheck: interrupted; no output file was written"
    assert list(tmp_path.iterdir()) == []


def test_sigterm_mid_run_exits_143_and_removes_the_temporary_files(env, tmp_path):
    """The run blocks reading a case from stdin with its output files open; SIGTERM then."""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "report.sarif"
    proc = subprocess.Popen([sys.executable, "-m", "policycheck", "assess", "--no-config", "--no-bundled", "--rules",
                             str(env["rules"]), "-", "-o", f"sarif:{out}"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".policycheck-*")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(tmp_path.glob(".policycheck-*")), "the run never opened its output"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err
    assert err.splitlines()[-1] == "policycheck: terminated by signal 15; no output file was written"
    assert list(tmp_path.iterdir()) == []
