"""The tool reads back what it wrote, at 10,000 cases: ``--baseline`` from a ``--write-baseline``
file, from an assessment JSON and from JSON Lines; ``diff`` between assessments (JSON against
JSON Lines), in memory that does not grow with the files (peak RSS of a fresh process).

The files are not made by assessing 10,000 cases (the reader is under test, not the assessor):
two bundled cases are assessed for real, and their records, as the tool's own writers lay
them out, are copied with new case ids and fingerprints. The layout is checked against the
real output first, so the big files are what the tool would have written.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from review_support import run

from policycheck.diff import Diff
from policycheck.load.assessments import index_assessment
from policycheck.load.records import open_stream
from policycheck.model.assessment import Assessment, PackInfo
from policycheck.render.jsonout import JsonlWriter, JsonWriter, _case_data, _line
from policycheck.render.stream import Head, Tail, dump
from policycheck.review.baseline import baseline_text

ROOT = Path(__file__).resolve().parents[1]
REAL = [ROOT / "cases" / "licences" / "openai-terms.yaml", ROOT / "cases" / "data" / "bing-search-api.yaml"]
N = 10_000
CASE, FP = "\0case\0", "\0fp{}\0"


def _templates(case: dict[str, Any]) -> tuple[str, str, list[str]]:
    """One real case's record as the JSON writer and the JSON Lines writer lay it out, with
    placeholders for its id and flag fingerprints; and its rules that fired."""
    data = {**case, "case": CASE, "flags": [{**f, "fingerprint": FP.format(j)} for j, f in enumerate(case["flags"])]}
    return dump(data), _line({"type": "case", **data}), [f["rule"] for f in case["flags"]]


def _fill(template: str, case_id: str, serial: int, flags: int) -> str:
    """A template with its placeholders (as JSON writes them, escaped) filled in."""
    text = template.replace(json.dumps(CASE)[1:-1], case_id)
    for j in range(flags):
        text = text.replace(json.dumps(FP.format(j))[1:-1], f"{serial:012x}{j:04x}")
    return text


def _write(folder: Path, real: dict[str, Any], count: int, *, drop: str | None = None,
           extra: bool = False, only: str | None = None) -> dict[str, Any]:
    """An assessment of ``count`` cases (the two real ones, then copies of them) as JSON and JSON
    Lines, and its baseline; ``drop``: a copied case whose first flag is left out; ``extra``: one
    more copy at the end."""
    head = Head(real["tool"], real["version"], PackInfo.model_validate(real["rule_pack"]))
    templates = [_templates(c) for c in real["cases"]]
    paths = {"json": folder / "a.json", "jsonl": folder / "a.jsonl", "baseline": folder / "baseline.json"}
    json_out = paths["json"].open("w", encoding="utf-8") if only in (None, "json") else io.StringIO()
    jsonl_out = paths["jsonl"].open("w", encoding="utf-8") if only in (None, "jsonl") else io.StringIO()
    jw, lw = JsonWriter(), JsonlWriter()
    with json_out, jsonl_out:
        jw.begin(json_out, head)
        lw.begin(jsonl_out, head)
        entries: list[dict[str, object]] = []
        flags = 0
        for i in range(count + extra):
            case = real["cases"][i % 2]
            pretty, line, rules = templates[i % 2]
            case_id = case["case"] if i < 2 else f"{case['case']}-{i:05d}"
            fps = ([f"{i:012x}{j:04x}" for j in range(len(rules))] if i >= 2
                   else [f["fingerprint"] for f in case["flags"]])
            if i < 2:
                text, row = dump(case), _line({"type": "case", **case})
            else:
                text, row = _fill(pretty, case_id, i, len(rules)), _fill(line, case_id, i, len(rules))
            if case_id == drop:
                body = json.loads(text)
                body["flags"] = body["flags"][1:]
                text, row = dump(body), _line({"type": "case", **body})
            if only in (None, "json"):
                jw.cases.add_text(text)
            jsonl_out.write(row)
            lw.cases += 1
            flags += len(rules) - (case_id == drop)
            entries += [{"case": case_id, "rule": r, "fingerprint": fp, "severity": "low", "facts": []}
                        for r, fp in zip(rules, fps)]
        tail = Tail(real["summary"] if count == 2 else f"{count + extra} cases")
        jw.end(tail)
        lw.end(tail)
    if only in (None, "baseline"):
        paths["baseline"].write_text(baseline_text(entries, real["rule_pack"]["digest"]), encoding="utf-8")
    return {**paths, "flags": flags, "entries": len(entries)}


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The two real cases assessed by the CLI, as JSON and JSON Lines."""
    folder = tmp_path_factory.mktemp("real")
    res = run(["assess", *map(str, REAL), "--no-config", "--exit-zero", "-q", "-o", f"json:{folder / 'r.json'}",
               "-o", f"jsonl:{folder / 'r.jsonl'}", "--write-baseline", str(folder / "b.json")])
    assert res.exit_code == 0, res.output
    body = json.loads((folder / "r.json").read_text(encoding="utf-8"))
    assert sum(len(c["flags"]) for c in body["cases"]) >= 3   # the baseline tests need flags
    return {"body": body, "dir": folder}


@pytest.fixture(scope="module")
def big(real: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _write(tmp_path_factory.mktemp("big"), real["body"], N)


def test_the_synthesized_files_have_the_layout_the_tool_writes(real, tmp_path):
    files = _write(tmp_path, real["body"], 2)
    body = real["body"]
    assert files["json"].read_text(encoding="utf-8") == (real["dir"] / "r.json").read_text(encoding="utf-8")
    ours = [json.loads(x) for x in files["jsonl"].read_text(encoding="utf-8").splitlines()]
    theirs = [json.loads(x) for x in (real["dir"] / "r.jsonl").read_text(encoding="utf-8").splitlines()]
    assert ours[:-1] == theirs[:-1] and ours[-1]["type"] == theirs[-1]["type"] == "summary"
    written = json.loads((real["dir"] / "b.json").read_text(encoding="utf-8"))
    assert sorted(e["fingerprint"] for e in written["flags"]) == sorted(
        f["fingerprint"] for c in body["cases"] for f in c["flags"])
    # A copy's text differs from its original only in the case id and the fingerprints.
    pretty, _, rules = _templates(body["cases"][0])
    copy = json.loads(_fill(pretty, "x-1", 7, len(rules)))
    assert copy["case"] == "x-1" and [f["fingerprint"] for f in copy["flags"]] == [
        f"{7:012x}{j:04x}" for j in range(len(rules))]
    assert {k: v for k, v in copy.items() if k not in ("case", "flags")} == {
        k: v for k, v in body["cases"][0].items() if k not in ("case", "flags")}


@pytest.mark.parametrize("kind", ["baseline", "json", "jsonl"])
def test_a_10000_case_output_is_read_back_as_a_baseline(big, kind):
    res = run(["assess", *map(str, REAL), "--no-config", "--baseline", str(big[kind]), "--fail-on", "info",
               "--format", "json"])
    assert res.exit_code == 0, res.stderr
    review = json.loads(res.stdout)["review"]
    assert review["in_baseline"] == review["flags"] > 0 and review["counted"] == 0
    # Every other entry of the file was read: they are the ones that "no longer match".
    assert review["baseline_resolved"] == big["entries"] - review["flags"] == big["flags"] - review["flags"]


# The peak is the process's own (VmHWM), not ru_maxrss, which on Linux carries over the
# memory of the test process the child was forked from.
DIFF_IN_A_PROCESS = """
import json, re, sys
from click.testing import CliRunner
from policycheck.cli import main
res = CliRunner().invoke(main, ["diff", sys.argv[1], sys.argv[2], "--no-config", "--format", "json"])
status = open("/proc/self/status", encoding="ascii").read()
peak = int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) * 1024
print(json.dumps({"code": res.exit_code, "stdout": res.stdout, "stderr": res.stderr, "peak": peak}))
"""


def test_a_10000_case_diff_reads_json_against_json_lines_in_flat_memory(big, real, tmp_path):
    """``diff`` of a 10,000-case assessment JSON against JSON Lines of the same cases with one flag
    left out and one case more, in a fresh process whose peak memory is measured."""
    body = real["body"]
    dropped = f"{body['cases'][0]['case']}-{2:05d}"     # the first copy: one flag left out
    new = _write(tmp_path, body, N, drop=dropped, extra=True, only="jsonl")
    out = subprocess.run([sys.executable, "-c", DIFF_IN_A_PROCESS, str(big["json"]), str(new["jsonl"])],
                         capture_output=True, text=True, check=True, cwd=tmp_path)
    res = json.loads(out.stdout)
    assert res["code"] in (0, 1), res["stderr"]
    d = Diff.model_validate_json(res["stdout"])
    assert len(d.cases) == N + 1
    assert [(c.case, c.change) for c in d.flags if c.change == "removed"] == [(dropped, "removed")]
    assert {c.case for c in d.flags if c.change == "added"} == {f"{body['cases'][N % 2]['case']}-{N:05d}"}
    assert d.unchanged_flags == big["flags"] - 1
    # Memory: a small part of either file (344 MB and 195 MB here), not a multiple of them.
    size = big["json"].stat().st_size
    assert size > 200_000_000 and res["peak"] < 250_000_000, (size, res["peak"])


def test_the_in_memory_reading_agrees_with_the_stream(real):
    """The indexed file gives back each case as the whole-file JSON parse has it."""
    path = real["dir"] / "r.json"
    stored = index_assessment(open_stream(path, "r.json"))
    whole = Assessment.read(json.loads(path.read_text(encoding="utf-8")))
    assert [stored.get(i) for i in stored.ids()] == list(whole.cases)
    assert stored.rule_pack == whole.rule_pack
    lines = index_assessment(open_stream(real["dir"] / "r.jsonl", "r.jsonl"))
    assert [lines.get(i) for i in lines.ids()] == list(whole.cases)
    assert [lines.digest(i) for i in lines.ids()] == [stored.digest(i) for i in stored.ids()]
    # The index keeps where each case is and what it counts, not the case.
    for index in (stored, lines):
        assert all(c.record.data is None for c in index.cases.values())
        assert [index.flag_count(i) for i in index.ids()] == [len(c.flags) for c in whole.cases]


SUMMARY_LINE = '{"type": "summary", "tool": "policycheck"}\n'


@pytest.mark.parametrize(("text", "where", "message"), [
    ('{\n  "flags": [],\n  "flags": []\n}\n', "3:3", "duplicate key 'flags'"),
    ('{\n  "flags": []\n}\n{}\n', "4:1", "extra data after the document"),
    ('{\n  "flags": [\n    {"case": "a",\n', "4:1", "invalid JSON: Expecting property name"),
    ('{\n  "flags": [\n    {"a": 1} {"b": 2}\n  ]\n}\n', "3:14", "expected ',' or ']'"),
    ('{"flags": [{"case": "a", "rule": "r", "fingerprint": "zz", "severity": "high"}], "policycheck_baseline": 1, '
     '"rule_pack": "x"}', "1:39", "flags[0].fingerprint: invalid value 'zz'"),
    ('\ufeff{\n  "flags": [\n    {"case": 1}\n  ],\n  "policycheck_baseline": 1,\n  "rule_pack": "x"\n}\n', r"3:\d+",
     "flags[0].case: "),
    ('{"type": "case", "case": "a", "flags": [{"rule": "r", "fingerprint": "zz"}]}\n' + SUMMARY_LINE, r"1:\d+",
     "flags[0].fingerprint: invalid value 'zz'"),
    ('{"type": "case", "case": "a", "flags": []}\n{"type": 3}\n' + SUMMARY_LINE, "2:1",
     'must be an object with a "type"'),
])
def test_a_bad_output_is_one_located_error(tmp_path, text, where, message):
    """Each problem of a streamed file is one line located at its line and column."""
    path = tmp_path / "out.json"
    path.write_text(text, encoding="utf-8")
    res = run(["assess", str(REAL[0]), "--no-config", "--baseline", str(path)])
    assert res.exit_code == 2, res.stdout
    first, *rest = res.stderr.splitlines()
    assert re.match(rf"^error: {re.escape(str(path))}:{where}: ", first) and message in first, first
    assert rest == [f"policycheck: nothing assessed: 1 problem in {path}"], rest


def test_a_compact_assessment_is_read_as_a_stream_too(real, tmp_path):
    """Any layout of the JSON (here ``jq -c``-like, one line) is read record by record."""
    body = json.loads((real["dir"] / "r.json").read_text(encoding="utf-8"))
    path = tmp_path / "compact.json"
    path.write_text(json.dumps(body, separators=(",", ":")), encoding="utf-8")
    stream = open_stream(path, "compact.json")
    assert stream.format == "json"
    stored = index_assessment(stream)
    assert stored.ids() == [c["case"] for c in body["cases"]]
    assert [stored.get(i).model_dump(mode="json") for i in stored.ids()] == body["cases"]


def test_a_record_over_report_bytes_is_refused_with_the_limit_named(tmp_path):
    """The files are streamed, but one record (here one line of JSON Lines) is parsed whole:
    ``limits.report_bytes`` bounds it, and a line over it is one located error naming the limit."""
    from policycheck import limits
    from policycheck.errors import InputError
    from policycheck.review.baseline import read_baseline

    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps({"tool": "policycheck", "padding": "x" * 5000}) + "\n", encoding="utf-8")
    with limits.using(limits.Limits(report_bytes=1000)), pytest.raises(InputError) as err:
        read_baseline(path)
    (line,) = [p.render() for p in err.value.problems]
    assert "a.jsonl:1" in line and "report_bytes" in line, line
