"""A bounded fuzz suite (issue 12, item 8): mutated case, rule, waiver, configuration, baseline
and assessment files (JSON and JSON Lines), bytes and structure, through the real command line
(in-process): ``assess``, ``assess --baseline`` and ``diff``.

Asserted for every input: no traceback and no exception escaping the CLI, exit code 0, 1 or
2, every ``error`` line on stderr one located line (``error: FILE[:LINE[:COL]]: ...``), and on
exit 2 every line of stderr either an error located at a line (``error: FILE:LINE[:COL]: ...``)
or the one ``policycheck:`` summary line; and a bounded time per run. Examples are few and
derandomized (the whole file runs in CI in well under 30 s on 2 cores); fuzz/fuzz_case.py runs
the same checks on the same kinds of file with atheris for long local runs.
"""

from __future__ import annotations

import functools
import json
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings, strategies as st

from hostile.make_corpus import ERROR_LINE, MINIMAL, TEST_RULES, waivers
from policycheck.cli import main
from policycheck.io.reader import walk_paths
from policycheck.io import confine
from policycheck.review.baseline import baseline_text

RULE = (Path(TEST_RULES) / "otc" / "t-latest-restricts-commercial.yaml").read_text(encoding="utf-8")
WAIVERS = waivers("2030-01-01")
CONFIG = "fail_on: low\nformat: json\nlimits:\n  versions: 50\nexclude: [drafts]\n"
SECONDS = 10.0

FUZZ = settings(max_examples=50, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# An error located at a line (what exit 2 must say about a file it read), and the summary line.
LOCATED = re.compile(r"^error: [^\s:][^:]*:\d+(:\d+)?: \S")
SUMMARY = re.compile(r"^policycheck: \S")

# --- mutations ---------------------------------------------------------------------------------

HOSTILE_TEXT = ["\x1b]8;;https://evil.example\x07x\x1b]8;;\x07", "a\nerror: forged", "\u202eevil", "\ud800",
                "@octocat #123 `a|b`", "２０２４-01-31", "٢٠٢٤-٠١-٣١", "2029-W01-1", "x" * 3000, "", "unknown",
                "../../etc/passwd", "/dev/zero", "*", "&a", "!!python/object:os.system"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                    st.sampled_from(HOSTILE_TEXT), st.text(max_size=20))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                      max_leaves=12)


def _set(data: Any, path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    if not path:
        return value
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return data


def _dump_json(draw: st.DrawFn, data: Any, lines: bool) -> str:
    """``data`` as JSON the way the tool writes it (two-space indent) or compact, or as JSON Lines
    (one compact object per line; ``data`` is then the list of lines)."""
    ascii_only = draw(st.booleans())
    if lines:
        rows = data if isinstance(data, list) else [data]
        return "".join(json.dumps(r, ensure_ascii=ascii_only, sort_keys=True, separators=(",", ":")) + "\n"
                       for r in rows)
    return json.dumps(data, ensure_ascii=ascii_only, sort_keys=True,
                      indent=draw(st.sampled_from([2, None]))) + "\n"


@st.composite
def structural(draw: st.DrawFn, seed: str, form: str = "yaml") -> bytes:
    """The seed file parsed, one to three values replaced, deleted or given an unknown key, dumped
    again (``form``: yaml, json, or jsonl, where the seed's lines are a list of objects)."""
    data = ([json.loads(x) for x in seed.splitlines() if x.strip()] if form == "jsonl"
            else json.loads(seed) if form == "json" else yaml.safe_load(seed))
    for _ in range(draw(st.integers(1, 3))):
        paths = [path for path, _ in walk_paths(data)]
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "delete" and path:
            data = _set(data, path, None, True)
        elif action == "add":
            target = data
            for step in path:
                target = target[step]
            if isinstance(target, dict):
                target[draw(st.sampled_from(HOSTILE_TEXT[:4] + ["commerical_use", "id"]))] = draw(values)
            elif isinstance(target, list):
                target.append(draw(values))
        else:
            data = _set(data, path, draw(values), False)
    if form == "yaml":
        text = yaml.safe_dump(data, allow_unicode=draw(st.booleans()), sort_keys=False)
    else:
        text = _dump_json(draw, data, form == "jsonl")
    return text.encode("utf-8", "surrogatepass")


@st.composite
def byte_level(draw: st.DrawFn, seed: str) -> bytes:
    """The seed's bytes with a few cut, repeated, overwritten or inserted (controls, bad UTF-8, YAML syntax)."""
    raw = bytearray(seed.encode("utf-8"))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(raw)))
        op = draw(st.sampled_from(["insert", "overwrite", "delete", "repeat", "truncate"]))
        junk = draw(st.one_of(st.binary(min_size=1, max_size=6),
                              st.sampled_from([b"\x1b[2J", b"\xff\xfe", b"\xed\xa0\x80", b"\x00", b"&a ", b"*a",
                                               b"!!str ", b"<<: ", b"{", b"[", b"'", b'"', b"\t", b"\r\n", b"---\n",
                                               b": ", b"- ", b"\xef\xbb\xbf", b"}", b"]", b",", b"\n", b"NaN",
                                               b"1e999", b"9" * 5000, b"[" * 3000, b'"type":"case",'])))
        if op == "insert":
            raw[at:at] = junk
        elif op == "overwrite":
            raw[at:at + len(junk)] = junk
        elif op == "delete":
            del raw[at:at + draw(st.integers(1, 20))]
        elif op == "repeat":
            raw[at:at] = raw[at:at + draw(st.integers(1, 40))] * draw(st.integers(1, 4))
        else:
            del raw[at:]
    return bytes(raw)


def mutated(seed: str, form: str = "yaml") -> st.SearchStrategy[bytes]:
    return st.one_of(structural(seed, form), byte_level(seed))


@functools.cache
def outputs() -> dict[str, str]:
    """What the tool writes for the minimal case (assessed once, for real): its assessment as
    JSON and as JSON Lines, and its baseline."""
    with workdir() as here:
        (here / "case.yaml").write_text(MINIMAL, encoding="utf-8")
        res = CliRunner().invoke(main, ["assess", "case.yaml", *ASSESS, "--exit-zero", "-q", "-o", "json:a.json",
                                        "-o", "jsonl:a.jsonl", "--write-baseline", "b.json"])
        assert res.exit_code == 0, res.output
        out = {name: (here / name).read_text(encoding="utf-8") for name in ("a.json", "a.jsonl", "b.json")}
    assert json.loads(out["b.json"])["flags"], "the seed baseline needs a flag to mutate"
    return out


def output_seed(name: str, form: str) -> st.SearchStrategy[bytes]:
    """``mutated`` of one of the tool's outputs (made on first use, not at import)."""
    return st.deferred(lambda: mutated(outputs()[name], form))


# --- running the CLI ---------------------------------------------------------------------------

@contextmanager
def workdir() -> Iterator[Path]:
    saved = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="policycheck-fuzz-") as folder:
        os.chdir(folder)
        before = os.environ.pop(confine.ALLOW_ENV, None)
        try:
            yield Path(folder)
        finally:
            os.chdir(saved)
            if before is not None:
                os.environ[confine.ALLOW_ENV] = before


def check_run(args: list[str]) -> None:
    """Run the CLI and assert the safe outcome for any input."""
    start = time.perf_counter()
    res = CliRunner().invoke(main, args)
    took = time.perf_counter() - start
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in res.output
    assert res.exit_code in (0, 1, 2), (res.exit_code, res.stderr[-500:])
    lines = res.stderr.splitlines()
    errors = [ln for ln in lines if ln.startswith("error")]
    assert all(ERROR_LINE.match(ln) for ln in errors), errors
    if res.exit_code == 2:
        assert errors and [ln for ln in lines if SUMMARY.match(ln)], lines
        assert all(LOCATED.match(ln) or SUMMARY.match(ln) for ln in lines), lines
        assert len([ln for ln in lines if SUMMARY.match(ln)]) == 1, lines
    assert took < SECONDS, took


def fuzz_file(name: str, content: bytes, args: Callable[[Path], list[str]], extra: dict[str, str] | None = None) -> None:
    with workdir() as here:
        (here / name).parent.mkdir(parents=True, exist_ok=True)
        (here / name).write_bytes(content)
        for other, text in (extra or {}).items():
            (here / other).parent.mkdir(parents=True, exist_ok=True)
            (here / other).write_text(text, encoding="utf-8")
        check_run(args(here))


ASSESS = ["--no-config", "--no-bundled", "--rules", TEST_RULES]


@FUZZ
@given(content=mutated(MINIMAL))
def test_mutated_case_files(content: bytes) -> None:
    fuzz_file("case.yaml", content, lambda _: ["assess", "case.yaml", *ASSESS])


@FUZZ
@given(content=mutated(RULE))
def test_mutated_rule_files(content: bytes) -> None:
    fuzz_file("rules/otc/rule.yaml", content,
              lambda _: ["assess", "case.yaml", "--no-config", "--no-bundled", "--rules", "rules"],
              {"case.yaml": MINIMAL})


@FUZZ
@given(content=mutated(WAIVERS))
def test_mutated_waiver_files(content: bytes) -> None:
    fuzz_file("waivers.yaml", content,
              lambda _: ["assess", "case.yaml", *ASSESS, "--waivers", "waivers.yaml", "--today", "2029-12-31"],
              {"case.yaml": MINIMAL})


@FUZZ
@given(content=mutated(CONFIG))
def test_mutated_config_files(content: bytes) -> None:
    fuzz_file(".policycheck.yaml", content,
              lambda _: ["assess", "case.yaml", "--config", ".policycheck.yaml", "--no-bundled", "--rules", TEST_RULES],
              {"case.yaml": MINIMAL})


BASELINE_SEED = baseline_text([{"case": "minimal", "rule": "t-latest-restricts-commercial",
                                "fingerprint": "0123456789abcdef", "severity": "high",
                                "facts": ["licence_version minimal-licence@1"]}], "0" * 16)


@FUZZ
@given(content=mutated(BASELINE_SEED, "json"))
def test_mutated_baseline_files(content: bytes) -> None:
    fuzz_file("baseline.json", content, lambda _: ["assess", "case.yaml", *ASSESS, "--baseline", "baseline.json"],
              {"case.yaml": MINIMAL})


@FUZZ
@given(content=output_seed("b.json", "json"))
def test_mutated_written_baselines(content: bytes) -> None:
    """The baseline the tool wrote for the case it is then run on (so its entries match flags)."""
    fuzz_file("baseline.json", content, lambda _: ["assess", "case.yaml", *ASSESS, "--baseline", "baseline.json",
                                                   "--fail-on", "low"], {"case.yaml": MINIMAL})


def _assessment_run(name: str, as_baseline: bool, mutated_first: bool) -> Callable[[Path], list[str]]:
    """Arguments reading the mutated assessment ``name``: as a baseline, or one side of a diff
    whose other side is the unmutated output (``mutated_first``: the mutated file is the old side)."""
    other = "b" + name[1:]

    def args(here: Path) -> list[str]:
        if as_baseline:
            return ["assess", "case.yaml", *ASSESS, "--baseline", name]
        (here / other).write_text(outputs()[name], encoding="utf-8")
        return ["diff", *((name, other) if mutated_first else (other, name)), *ASSESS]
    return args


@FUZZ
@given(content=output_seed("a.json", "json"), as_baseline=st.booleans())
def test_mutated_assessment_json(content: bytes, as_baseline: bool) -> None:
    fuzz_file("a.json", content, _assessment_run("a.json", as_baseline, False), {"case.yaml": MINIMAL})


@FUZZ
@given(content=output_seed("a.jsonl", "jsonl"), as_baseline=st.booleans())
def test_mutated_assessment_json_lines(content: bytes, as_baseline: bool) -> None:
    fuzz_file("a.jsonl", content, _assessment_run("a.jsonl", as_baseline, True), {"case.yaml": MINIMAL})


def test_the_seeds_are_read_back_cleanly() -> None:
    """The unmutated outputs are accepted (so a mutation's errors come from the mutation)."""
    seeds = outputs()
    with workdir() as here:
        for name, text in seeds.items():
            (here / name).write_text(text, encoding="utf-8")
        (here / "case.yaml").write_text(MINIMAL, encoding="utf-8")
        for args in (["assess", "case.yaml", *ASSESS, "--baseline", "b.json", "--fail-on", "info"],
                     ["assess", "case.yaml", *ASSESS, "--baseline", "a.json", "--fail-on", "info"],
                     ["assess", "case.yaml", *ASSESS, "--baseline", "a.jsonl", "--fail-on", "info"],
                     ["diff", "a.json", "a.jsonl", *ASSESS]):
            res = CliRunner().invoke(main, args)
            assert res.exit_code == 0, (args, res.output)


@pytest.mark.parametrize("lines", [
    ["error: case.yaml:3:1: bad value", "  and more about it", "policycheck: nothing assessed"],  # a stray line
    ["error: something went wrong"],                                                           # no location
], ids=["stray-line", "unlocated-error"])
def test_the_checks_are_not_vacuous(monkeypatch: Any, lines: list[str]) -> None:
    """check_run fails on exit 2 with a line that is neither a located error nor the summary,
    and on an error line without a location."""
    import click

    @click.command()
    def bad() -> None:
        for line in lines:
            click.echo(line, err=True)
        raise SystemExit(2)

    monkeypatch.setattr("test_fuzz.main", bad)
    try:
        check_run([])
    except AssertionError:
        return
    raise AssertionError(f"{lines} passed the checks")
