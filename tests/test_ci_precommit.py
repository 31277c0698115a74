"""The shipped pre-commit hooks, run by the real ``pre-commit`` package (issue 11, "Done when").

A temporary git repository holds real case files copied from ``cases/`` (one with medium and
high flags, two clean ones), a broken case file and a YAML file outside ``cases/``. Its
``.pre-commit-config.yaml`` is built from this repository's ``.pre-commit-hooks.yaml``, parsed:
each hook's ``id``, ``name``, ``entry``, ``args``, ``files`` and ``require_serial`` are the
shipped ones. Then ``python -m pre_commit run`` runs the hooks as a commit would.

The one deviation from a user's setup: the config uses ``repo: local`` with
``language: system`` (the policycheck on ``PATH``, this virtualenv's) instead of pointing
``repo:`` at this repository with the hooks' ``language: python``. The latter makes
pre-commit build a virtualenv and pip-install policycheck into it, which compiles
durable_rules from source: minutes and a C compiler per test run. Everything pre-commit
decides (which files match ``files``, how arguments are passed, how output and exit codes
are reported) is the same. ``PRE_COMMIT_HOME`` points into the temporary folder, so nothing
lands in ``~/.cache``.
"""

from __future__ import annotations

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
FAILING = "licences/llama-2.yaml"                      # high and medium flags
CLEAN = ("licences/gpt-j.yaml", "licences/pythia.yaml")  # no flags at all
BROKEN = "schema_version: 2\nid: broken\ntitel: typo\n"
KEYS = ("id", "name", "entry", "args", "files", "require_serial")


def _shipped_hooks() -> list[dict[str, Any]]:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert [h["id"] for h in hooks] == ["policycheck-validate", "policycheck-assess"]
    return hooks


def _config() -> dict[str, Any]:
    local = [{**{k: h[k] for k in KEYS if k in h}, "language": "system"} for h in _shipped_hooks()]
    return {"repos": [{"repo": "local", "hooks": local}]}


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT", "POLICYCHECK_"))}
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", PRE_COMMIT_HOME=str(home / "pre-commit-home"),
               HOME=str(home), GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.org", POLICYCHECK_TODAY="2026-01-01",
               NO_COLOR="1")
    return env


def _git(repo: Path, env: dict[str, str], *args: str) -> None:
    subprocess.run(["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
                   cwd=repo, env=env, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    home = tmp_path_factory.mktemp("precommit")
    repo = home / "repo"
    (repo / "cases").mkdir(parents=True)
    (repo / "notes").mkdir()
    for name in (FAILING, *CLEAN):
        shutil.copy(ROOT / "cases" / name, repo / "cases" / Path(name).name)
    (repo / "cases" / "broken.yaml").write_text(BROKEN, encoding="utf-8")
    (repo / "notes" / "broken-too.yaml").write_text(BROKEN, encoding="utf-8")   # not under cases/
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(_config(), sort_keys=False), encoding="utf-8")
    env = _env(home)
    _git(repo, env, "init", "-q")
    _git(repo, env, "add", ".")
    _git(repo, env, "commit", "-q", "-m", "cases")
    return repo, env


def _run(repo: tuple[Path, dict[str, str]], *args: str, color: str = "never") -> tuple[int, dict[str, str]]:
    """Run pre-commit; return its exit code and each hook's report (status line and output)."""
    path, env = repo
    if color != "never":
        env = {k: v for k, v in env.items() if k != "NO_COLOR"}
    proc = subprocess.run([sys.executable, "-m", "pre_commit", "run", "--color", color, *args], cwd=path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    names = {h["name"]: h["id"] for h in _shipped_hooks()}
    sections: dict[str, str] = {}
    current = None
    for line in re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout).splitlines():
        head = re.match(r"^(.+?)\.{3,}(\(no files to check\))?(Passed|Failed|Skipped)$", line)
        if head and head.group(1) in names:
            current = names[head.group(1)]
            sections[current] = head.group(3) + "\n"
        elif current is not None:
            sections[current] += line + "\n"
    assert set(sections) == set(names.values()), proc.stdout
    if color != "never":
        sections["raw"] = proc.stdout
    return proc.returncode, sections


def _output(section: str) -> list[str]:
    """The hook's own output lines (pre-commit's '- hook id' / '- exit code' header removed)."""
    return [x for x in section.splitlines()[1:] if x and not x.startswith("- ")]


def test_config_takes_the_shipped_hooks_fields() -> None:
    (validate, assess) = _config()["repos"][0]["hooks"]
    shipped = _shipped_hooks()
    assert validate["entry"] == shipped[0]["entry"] and assess["args"] == shipped[1]["args"]
    assert "--quiet" in assess["entry"].split() and assess["require_serial"] is True


def test_failing_flags_fail_the_assess_hook_with_only_those_flags_and_a_reason(repo) -> None:
    files = [f"cases/{Path(n).name}" for n in (FAILING, *CLEAN)]
    code, hooks = _run(repo, "--files", *files)
    assert code == 1
    assert hooks["policycheck-validate"].startswith("Passed")
    assert hooks["policycheck-assess"].startswith("Failed")
    assert "- exit code: 1" in hooks["policycheck-assess"]
    lines = _output(hooks["policycheck-assess"])
    flags = [x for x in lines if x.startswith("cases/")]
    assert flags and all(re.match(r"^cases/llama-2\.yaml:\d+: (medium|high) [a-z-]+ \(llama-2\): \S", x) for x in flags)
    assert any(" high output-training-ban (llama-2): " in x for x in flags)
    assert not any("gpt-j" in x or "pythia" in x for x in lines)          # clean cases print nothing
    assert not any("|" in x or "──" in x or x.startswith(("C1", "Conditions")) for x in lines)   # no table
    summary = [x for x in lines if x.startswith("Summary: ")]
    assert summary == [summary[0]] and summary[0].startswith("Summary: 3 cases, ")
    reason = lines[-1]
    assert re.match(rf"^policycheck: {len(flags)} flags at or above medium: [a-z-]+@llama-2(, [a-z-]+@llama-2)*"
                    r"( \+\d+ more)?$", reason.replace(", +", " +")), reason
    assert set(lines) == {*flags, summary[0], reason}


def test_broken_file_is_one_located_line_in_both_hooks(repo) -> None:
    code, hooks = _run(repo, "--all-files")
    assert code == 1
    assert hooks["policycheck-validate"].startswith("Failed")
    (line,) = [x for x in _output(hooks["policycheck-validate"]) if x.startswith("error: ")]
    assert line == "error: cases/broken.yaml:3:1: titel: unknown field 'titel' (did you mean 'title'?)"
    assert "notes/" not in hooks["policycheck-validate"] + hooks["policycheck-assess"]   # `files` keeps it out
    assess = _output(hooks["policycheck-assess"])
    assert "- exit code: 2" in hooks["policycheck-assess"]
    assert [x for x in assess if x.startswith("error: ")] == [line]
    assert re.match(r"^policycheck: 1 file not assessed: cases/broken\.yaml \(and \d+ flags at or above medium\)$",
                    assess[-1]), assess[-1]


def test_clean_cases_pass_both_hooks(repo) -> None:
    code, hooks = _run(repo, "--files", *[f"cases/{Path(n).name}" for n in CLEAN])
    assert code == 0, hooks
    assert hooks["policycheck-validate"].startswith("Passed")
    assert hooks["policycheck-assess"].startswith("Passed")


def test_non_case_files_skip_both_hooks(repo) -> None:
    code, hooks = _run(repo, "--files", "notes/broken-too.yaml")
    assert code == 0
    assert all(h.startswith("Skipped") for h in hooks.values()), hooks


def test_on_a_terminal_the_failing_lines_are_coloured(repo) -> None:
    """``--color always`` is what pre-commit does on a terminal: it runs the hook on a
    pseudo-terminal, so policycheck sees one and colours the severities."""
    code, hooks = _run(repo, "--files", f"cases/{Path(FAILING).name}", color="always")
    assert code == 1
    assert "\x1b[1;31mhigh\x1b[0m output-training-ban (llama-2): " in hooks["raw"]
    assert "assessing [" not in hooks["raw"]                       # --quiet: no progress bar


def test_the_documented_config_names_the_shipped_hooks() -> None:
    text = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.S) if "pre-commit-config" in b)
    (entry,) = yaml.safe_load(block)["repos"]
    assert [h["id"] for h in entry["hooks"]] == [h["id"] for h in _shipped_hooks()]
