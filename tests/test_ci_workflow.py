"""The GitHub Actions job of docs/ci.md, run step by step (issue 11, "Done when"): its ``run:``
steps execute in bash, in a repository holding two real case files and a broken one, with
``GITHUB_STEP_SUMMARY`` pointing at a file and each step's ``if: hashFiles(...)`` honoured.
One ``assess`` run must produce the annotations, the SARIF and the Markdown summary, list the
broken file in each, print only the failing flags' annotations and the reason line, and exit 2."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _workflow() -> dict[str, Any]:
    text = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    first = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)[0]
    return yaml.safe_load(first)


def _runs(step: dict[str, Any], repo: Path) -> bool:
    """Whether a step runs after a failing step (``if: always() && hashFiles('f') != ''``)."""
    cond = str(step.get("if", ""))
    if "always()" not in cond:
        return False
    return all((repo / f).exists() for f in re.findall(r"hashFiles\('([^']+)'\)", cond))


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    repo = tmp_path_factory.mktemp("repo")
    (repo / ".git").mkdir()   # the configuration search stops here
    (repo / "cases").mkdir()
    for name in ("licences/llama-2.yaml", "licences/gpt-j.yaml"):
        shutil.copy(ROOT / "cases" / name, repo / "cases" / Path(name).name)
    (repo / "cases" / "broken.yaml").write_text("schema_version: 2\nid: broken\ntitel: typo\n")
    summary = repo / "step-summary.md"
    summary.write_text("")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "GITHUB_STEP_SUMMARY": str(summary), "POLICYCHECK_TODAY": "2026-01-01"}
    steps = [s for s in _workflow()["jobs"]["assess"]["steps"] if "run" in s and "pip install" not in s["run"]]
    results = []
    failed = False
    for step in steps:
        if failed and not _runs(step, repo):
            results.append((step["name"], None))
            continue
        proc = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=repo, env=env, capture_output=True, text=True,
                              timeout=300)
        results.append((step["name"], proc))
        failed = failed or proc.returncode != 0
    return {"repo": repo, "results": results, "summary": summary}


def _assess(job: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    (proc,) = [p for name, p in job["results"] if name.startswith("Assess")]
    assert proc is not None
    return proc


def test_the_assess_step_is_one_run_that_exits_2_with_a_reason_line(job):
    proc = _assess(job)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines()[-1] == ("policycheck: 1 file not assessed: cases/broken.yaml "
                                            "(and 1 flag at or above high)")
    assert all(line.startswith("error: cases/broken.yaml:") for line in proc.stderr.splitlines()[:-1])


def test_stdout_is_only_annotations_at_file_and_line(job):
    lines = _assess(job).stdout.splitlines()
    assert lines and all(re.match(r"^::(error|warning|notice) file=cases/[\w.-]+\.yaml,line=\d+", x) for x in lines)
    assert any(x.startswith("::error file=cases/broken.yaml,line=3,col=1,") for x in lines)
    assert any(x.startswith("::error file=cases/llama-2.yaml,") and "output-training-ban" in x for x in lines)


def test_annotations_are_only_the_failing_flags_the_reason_line_counts(job):
    """The workflow's --quiet: the log and the pull request show the flags that fail the run
    (and the broken file), not every flag; the SARIF and the summary still hold all of them."""
    proc = _assess(job)
    flags = [x for x in proc.stdout.splitlines() if "file=cases/broken.yaml" not in x]
    titles = [re.search(r",title=policycheck ([a-z0-9-]+) \((\w+)\)::", x) for x in flags]
    assert all(t is not None and t.group(2) == "high" and x.startswith("::error ") for t, x in zip(titles, flags))
    counted = re.search(r"\(and (\d+) flags? at or above high\)$", proc.stderr.splitlines()[-1])
    assert counted is not None and int(counted.group(1)) == len(flags) >= 1
    sarif = json.loads((job["repo"] / "policycheck.sarif").read_text())
    levels = [r["level"] for r in sarif["runs"][0]["results"]]
    assert len(levels) > len(flags) and "warning" in levels      # the medium flags: in SARIF, not annotated
    shown = {t.group(1) for t in titles if t is not None}
    medium = {r["ruleId"] for r in sarif["runs"][0]["results"] if r["level"] == "warning"}
    assert medium and not medium & shown
    summary = job["summary"].read_text()
    assert all(rule in summary for rule in medium)


def test_sarif_and_summary_are_written_and_list_the_broken_file(job):
    sarif = json.loads((job["repo"] / "policycheck.sarif").read_text())
    notes = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert [n["properties"]["file"] for n in notes if n["level"] == "error"] == ["cases/broken.yaml"]
    assert [c["case"] for c in sarif["runs"][0]["properties"]["cases"]] == ["gpt-j", "llama-2"]
    assert "llama-2" in {r["properties"]["case"] for r in sarif["runs"][0]["results"]}
    summary = job["summary"].read_text()
    assert summary.startswith("## policycheck: 2 cases, ") and "### Files not assessed (1)" in summary
    assert len(summary) <= 65_000
    names = [name for name, proc in job["results"] if proc is not None]
    assert any(n.startswith("Job summary") for n in names)   # ran after the failing step
