"""Outputs (issue 11, items 3-5): several outputs in one run (``-o [FORMAT:]FILE``), the github
annotation format and its escaping, quiet / summary views, --min-severity, the Markdown size
limit, atomic writes with the umask's permissions, JSON Lines, colour and width.

Small cases and the three-rule test pack; the bundled library only for the Markdown limit,
through the library (no CLI run of the whole library)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from review_support import BAN, assess, case_text, run, write_case, write_rules

from policycheck.render import github

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("outputs")
    rules = write_rules(d)
    cases = d / "cases"
    cases.mkdir()
    write_case(cases, "acme.yaml", case_id="acme", versions=[BAN])     # high, medium, low
    write_case(cases, "beta.yaml", case_id="beta")                     # medium, low
    return {"dir": d, "rules": rules, "cases": cases, "acme": cases / "acme.yaml"}


# --------------------------------------------------------------------------- -o [FORMAT:]FILE


def test_one_run_writes_several_outputs_equal_to_single_runs(env, tmp_path):
    sarif, md, gh = tmp_path / "a.sarif", tmp_path / "s.md", tmp_path / "ann.txt"
    res = assess(env["rules"], env["cases"], "-o", f"sarif:{sarif}", "-o", f"markdown:{md}", "-o", f"github:{gh}",
                 "--fail-on", "high", "-q")
    assert res.exit_code == 1
    # stdout: the quiet table (the --format output), the reason on stderr
    assert res.stdout.splitlines()[0].startswith(f"{env['acme']}:") and " high ban-outputs (acme): " in res.stdout
    assert res.stdout.splitlines()[-1].startswith("Summary: 2 cases, 5 flags")
    for path, fmt in ((sarif, "sarif"), (md, "markdown"), (gh, "github")):
        alone = assess(env["rules"], env["cases"], "--format", fmt, "--fail-on", "high", "-q")
        assert path.read_text(encoding="utf-8") == alone.stdout, fmt
    assert path.read_text(encoding="utf-8").count("\n") == 1                 # -q: the one high flag
    assert assess(env["rules"], env["cases"], "--format", "sarif").stdout == sarif.read_text(encoding="utf-8")


def test_a_bare_file_takes_the_format_output_and_format_dash_is_stdout(env, tmp_path):
    out = tmp_path / "r.json"
    res = assess(env["rules"], env["acme"], "--format", "json", "-o", out, "-o", "github:-")
    assert res.exit_code == 0
    assert json.loads(out.read_text())["cases"][0]["case"] == "acme"
    assert res.stdout.startswith("::error file=")


@pytest.mark.parametrize(("outputs", "message"), [
    (["-o", "json:-"], "two outputs on stdout"),
    (["-o", "a.txt", "-o", "b.txt"], "only one can take the --format output"),
    (["-o", "sarif:x.sarif", "-o", "junit:x.sarif"], "is named twice"),
    (["-o", "sarif:"], "give a file after 'sarif:'"),
])
def test_output_usage_errors(env, outputs, message):
    res = assess(env["rules"], env["acme"], *outputs)
    assert res.exit_code == 2 and message in res.stderr


def test_diff_takes_several_outputs(env, tmp_path):
    old = write_case(tmp_path, "old.yaml", case_id="acme")
    md, js = tmp_path / "d.md", tmp_path / "d.json"
    res = run(["diff", "--no-config", "--no-bundled", "--rules", env["rules"], old, env["acme"], "-o", f"markdown:{md}",
               "-o", f"json:{js}"])
    assert res.exit_code == 1
    assert res.stdout.startswith("policycheck diff ")          # the table still on stdout
    assert md.read_text().startswith("## ") and json.loads(js.read_text())["new_concerns"] >= 1


# --------------------------------------------------------------------------- atomic files


def test_files_get_the_umasks_permissions_and_leave_no_temporary_file(env, tmp_path):
    script = (
        "import os, sys\n"
        "os.umask(0o027)\n"
        "from policycheck.cli import main\n"
        "sys.argv = ['policycheck'] + sys.argv[1:]\n"
        "main()\n")
    out = tmp_path / "r.sarif"
    kept = tmp_path / "kept.md"
    kept.write_text("old\n")
    os.chmod(kept, 0o604)
    proc = subprocess.run([sys.executable, "-c", script, "assess", "--no-config", "--no-bundled", "--rules",
                           str(env["rules"]), str(env["acme"]), "-o", f"sarif:{out}", "-o", f"markdown:{kept}",
                           "--write-baseline", str(tmp_path / "b.json")],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o640                   # 0666 & ~027
    assert stat.S_IMODE((tmp_path / "b.json").stat().st_mode) == 0o640
    assert stat.S_IMODE(kept.stat().st_mode) == 0o604                  # an existing file keeps its mode
    assert kept.read_text().startswith("## policycheck")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.json", "kept.md", "r.sarif"]


@pytest.mark.parametrize("kind", ["directory", "fifo", "symlink"])
def test_output_onto_anything_but_a_regular_file_is_refused(env, tmp_path, kind):
    target = tmp_path / "target"
    if kind == "directory":
        target.mkdir()
    elif kind == "fifo":
        os.mkfifo(target)
    else:
        (tmp_path / "real").write_text("x")
        target.symlink_to(tmp_path / "real")
    res = assess(env["rules"], env["acme"], "-o", f"json:{target}")
    assert res.exit_code == 2 and res.stdout == ""
    assert f"error: {target}: cannot write: " in res.stderr
    assert res.stderr.splitlines()[-1] == f"policycheck: nothing assessed: cannot write {target}"
    assert not list(tmp_path.glob(".policycheck-*"))


# --------------------------------------------------------------------------- github


def test_github_escaping_follows_the_runner():
    assert github.escape_data("50% a\r\nb") == "50%25 a%0D%0Ab"
    assert github.escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    line = github.command("warning", "x\n::error::forged", file="dir,x/a:b.yaml", line=3, title="t: 1, 2")
    assert line == "::warning file=dir%2Cx/a%3Ab.yaml,line=3,title=t%3A 1%2C 2::x%0A::error::forged"
    assert "\n" not in line


def test_github_annotations_levels_and_locations(env, tmp_path):
    res = assess(env["rules"], env["cases"], "--format", "github")
    lines = res.stdout.splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == ["::error", "::warning", "::notice", "::warning", "::notice"]
    text = env["acme"].read_text().splitlines()
    for line in lines[:3]:
        props = dict(p.split("=", 1) for p in line.split(" ", 1)[1].split("::", 1)[0].split(","))
        assert props["file"] == str(env["acme"]).replace(":", "%3A").replace(",", "%2C")
        assert 1 <= int(props["line"]) <= len(text)
        assert props["title"].startswith("policycheck ")


def test_quiet_github_annotates_only_the_flags_that_fail(env):
    every = assess(env["rules"], env["cases"], "--format", "github", "--fail-on", "medium").stdout.splitlines()
    res = assess(env["rules"], env["cases"], "--format", "github", "--fail-on", "medium", "-q")
    lines = res.stdout.splitlines()
    assert res.exit_code == 1 and res.stderr.startswith(f"policycheck: {len(lines)} flags at or above medium: ")
    assert lines == [x for x in every if x.startswith(("::error ", "::warning "))]   # high and medium, same order
    assert len(lines) == 3 and len(every) == 5
    assert assess(env["rules"], env["cases"], "--format", "github", "-q").stdout == ""   # no --fail-on: none fail


def test_github_escapes_hostile_case_text(env, tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text(case_text("evil", [{**BAN, "version": "v1%0A\n::error::x, y: z"}]))
    res = assess(env["rules"], path, "--format", "github")
    assert all(line.startswith(("::error ", "::warning ", "::notice ")) for line in res.stdout.splitlines())
    assert "v1%250A ::error::x, y: z" in res.stdout   # messages are one line; % escaped


def test_waived_flags_are_not_annotated(env, tmp_path):
    w = tmp_path / "w.yaml"
    w.write_text("waivers:\n  - {rule: ban-outputs, case: acme, reason: ok, approver: me, expires: 2999-01-01}\n")
    res = assess(env["rules"], env["acme"], "--format", "github", "--waivers", w)
    assert "ban-outputs" not in res.stdout and res.stdout.count("\n") == 2


# --------------------------------------------------------------------------- views


def test_min_severity_filters_every_format_but_not_fail_on(env):
    res = assess(env["rules"], env["cases"], "--format", "json", "--min-severity", "MEDIUM", "--fail-on", "low")
    data = json.loads(res.stdout)
    assert {f["severity"] for c in data["cases"] for f in c["flags"]} == {"high", "medium"}
    assert res.exit_code == 1 and "5 flags at or above low" in res.stderr  # the hidden low flags still count
    junit = assess(env["rules"], env["acme"], "--format", "junit", "--min-severity", "medium").stdout
    assert 'name="gated"' in junit and "flags below --min-severity, not shown" in junit


def test_view_summary_is_one_line_per_case_worst_first(env):
    res = assess(env["rules"], env["cases"], "--view", "summary")
    lines = res.stdout.splitlines()
    assert lines[0].startswith("high    acme: 3 flags") and lines[1].startswith("medium  beta: 2 flags")
    assert lines[-1].startswith("Summary: ")


def test_quiet_without_fail_on_is_just_the_summary(env):
    res = assess(env["rules"], env["cases"], "-q")
    assert res.stdout.splitlines() == [res.stdout.splitlines()[-1]] and res.stdout.startswith("Summary: ")


def test_colour_only_when_asked_for_a_terminal():
    from policycheck.render.stream import render_with
    from policycheck.render.table import TableWriter
    from policycheck.render.terminal import Style, colour_wanted

    class Tty:
        def isatty(self) -> bool:
            return True

    assert colour_wanted(Tty(), environ={}) is True
    assert colour_wanted(Tty(), environ={"NO_COLOR": "1"}) is False
    assert colour_wanted(Tty(), no_color=True, environ={}) is False
    assert colour_wanted(Tty(), environ={"TERM": "dumb"}) is False
    from test_render_time import make_assessment

    result = make_assessment()
    plain = render_with(TableWriter(), result)
    coloured = render_with(TableWriter(style=Style(True)), result)
    assert "\x1b[" not in plain and "\x1b[" in coloured
    import re

    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured).split() == plain.split()


def test_the_table_wraps_to_the_width(env):
    from policycheck.render.stream import render_with
    from policycheck.render.table import TableWriter
    from test_render_time import make_assessment

    narrow = render_with(TableWriter(width=80), make_assessment())
    assert max(len(line) for line in narrow.splitlines()) <= 80


def test_wrap_counts_wide_characters_and_keeps_hyphenated_words():
    from policycheck.render.terminal import display_width, wrap

    quote = '"最近の業界の動きとしては、Stability AIが次世代モデルのトレーニングにAWS Trainiumチップを使用したり" (CMA)'
    lines = wrap(quote, 30)
    assert display_width("最近") == 4 and display_width("\x1b[31mab\x1b[0m") == 2
    assert all(display_width(x) <= 30 for x in lines) and len(lines) > 3
    assert "".join(lines).replace(" ", "") == quote.replace(" ", "")
    assert wrap("see deal amzn-anthropic-2024-11.developer_multihoming now", 48) == [
        "see deal", "amzn-anthropic-2024-11.developer_multihoming now"]
    assert wrap("right-of-first-refusal-not-exclusivity", 20) == ["right-of-first-", "refusal-not-", "exclusivity"]
    assert wrap("a b\n(C1 C2)", 10, indent="  ") == ["a b", "  (C1 C2)"]


@pytest.mark.parametrize("width", [72, 100, 160])
def test_bundled_library_table_fits_the_width_without_splitting_rule_ids(library, width):
    from policycheck.render.stream import render_with
    from policycheck.render.table import TableWriter
    from policycheck.render.terminal import Style, display_width

    text = render_with(TableWriter(width=width, style=Style(True)), library)
    lines = text.splitlines()
    assert max(display_width(x) for x in lines) <= width
    assert max(display_width(x) for x in lines) >= width - 4          # it uses the width it has
    if width >= 100:   # the Rule column widens for ids up to 38 characters at 100 columns
        shown = {w for x in lines for w in x.split()}
        ids = {f.rule for c in library.cases for f in c.flags}
        assert {i for i in ids if len(i) <= width - 62} <= shown


def test_cli_output_to_a_pipe_has_no_colour(env):
    res = assess(env["rules"], env["acme"], env={"NO_COLOR": ""})
    assert "\x1b[" not in res.stdout


# --------------------------------------------------------------------------- markdown limit


@pytest.fixture(scope="module")
def library() -> Any:
    from policycheck.evaluate import assess as assess_cases
    from policycheck.load.cases import iter_case_files, load_case
    from policycheck.load.rules import load_rules

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        return assess_cases([load_case(p) for p in iter_case_files(["cases"])], load_rules())
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize("limit", [65_000, 20_000, 3_000])
def test_markdown_stays_under_the_limit_and_says_what_was_cut(library, limit):
    from policycheck.render import markdown

    full = markdown.render(library)
    assert len(full) > 65_000   # the bundled library needs shortening
    text = markdown.render(library, limit)
    assert len(text) <= limit
    assert f"**Shortened to fit {limit:,} characters**" in text
    for case in library.cases:   # every case is still named (in a row, a line or the name list)
        assert case.case.replace("-", "\\-") in text or f"`{case.case}`" in text or case.case in text
    assert text.rstrip().endswith("</sub>")


def test_markdown_limit_keeps_the_worst_cases_details(library):
    from policycheck.render import markdown

    worst = max(library.cases, key=lambda c: (max((("info", "low", "medium", "high").index(f.severity)
                                                     for f in c.flags), default=-1), len(c.flags)))
    alone = len(markdown.render(library.model_copy(update={"cases": [worst]})))
    text = markdown.render(library, alone + 12_000)   # room for it and the other cases' lines
    assert f'<a id="case-{worst.case}"></a>' in text


def test_markdown_limit_on_the_command_line_and_in_config(env, tmp_path, monkeypatch):
    res = assess(env["rules"], env["cases"], "--format", "markdown", "--markdown-limit", "1500")
    assert len(res.stdout) <= 1500 and "Shortened to fit 1,500 characters" in res.stdout
    write_rules(tmp_path)
    (tmp_path / ".policycheck.yaml").write_text("bundled: false\nrules: [rules]\nmarkdown_limit: 1500\n")
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    conf = run(["assess", env["cases"], "--format", "markdown"])
    assert conf.stdout == res.stdout
    assert "Shortened" not in run(["assess", env["cases"], "--format", "markdown", "--markdown-limit", "0"]).stdout


# --------------------------------------------------------------------------- streaming writers


def test_streamed_json_is_the_assessment_json(env):
    from policycheck import assess as api_assess
    from policycheck import load_case, load_rules

    res = assess(env["rules"], env["cases"], "--format", "json")
    api = api_assess([load_case(p) for p in sorted(env["cases"].iterdir())], load_rules([env["rules"]], bundled=False))
    assert res.stdout == api.to_json()


def test_jsonl_shape(env):
    res = assess(env["rules"], env["cases"], "--format", "jsonl")
    lines = res.stdout.splitlines()
    data = [json.loads(line) for line in lines]
    assert [d["type"] for d in data] == ["case", "case", "summary"]
    assert [d["case"] for d in data[:2]] == ["acme", "beta"]
    assert set(data[-1]) == {"type", "tool", "version", "rule_pack", "summary", "cases", "errors"}
    assert data[-1]["cases"] == 2 and data[-1]["errors"] == 0
    from policycheck.model.assessment import CaseAssessment

    CaseAssessment.model_validate({k: v for k, v in data[0].items() if k != "type"})


def test_spools_on_disk_give_the_same_bytes(library, monkeypatch):
    """Past SPOOL_IN_MEMORY the writers' spools move to temporary files: same documents."""
    from policycheck.render import html, junit, markdown, sarif, stream

    small = library.model_copy(update={"cases": library.cases[:6]})
    before = {"md": markdown.render(small), "md-cut": markdown.render(small, 20_000), "html": html.render(small),
              "junit": junit.render(small), "sarif": sarif.render(small)}
    monkeypatch.setattr(stream, "SPOOL_IN_MEMORY", 64)
    after = {"md": markdown.render(small), "md-cut": markdown.render(small, 20_000), "html": html.render(small),
             "junit": junit.render(small), "sarif": sarif.render(small)}
    assert after == before
