"""Hostile files (issue 12, items 2 and 3): confinement, special files, bounded reads, excerpts.

Each attack is rebuilt from small generated inputs in ``tmp_path`` and its safe outcome is
asserted: exit 2, one located ``error:`` line per problem, no traceback, nothing of a target's
content echoed, and no hang (anything that could block runs in a child process with a
timeout). See docs/security.md for the threat model and src/policycheck/io/confine.py.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile.make_corpus import add_link_junk
from click.testing import CliRunner, Result

from policycheck import limits
from policycheck.cli import main
from policycheck.errors import CaseLoadError, InputError
from policycheck.io import confine
from policycheck.io.config import load_config
from policycheck.io.reader import read_bytes
from policycheck.load.cases import iter_case_files, load_case, load_case_text, load_cases, scan_case_files
from policycheck.load.rules import load_rules
from policycheck.ruletest.fixtures import load_suite

ROOT = Path(__file__).resolve().parents[1]
MINIMAL = (ROOT / "tests" / "data" / "cases" / "minimal.yaml").read_text(encoding="utf-8")
TEST_RULES = str(ROOT / "tests" / "data" / "rules")
SECRET = "SECRET-LINE-7f3a"
EXE = str(Path(sys.executable).with_name("policycheck"))


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from tmp_path (no repository above it), without allowed folders from the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(confine.ALLOW_ENV, raising=False)


def secret_file(folder: Path, name: str = "secret.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"root: {SECRET}\n{SECRET}-second: x\n", encoding="utf-8")
    return path


def case_file(path: Path, case_id: str = "minimal") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(MINIMAL.replace("id: minimal", f"id: {case_id}"), encoding="utf-8")
    return path


def assess(*args: str) -> Result:
    result = CliRunner().invoke(main, ["assess", "--no-config", "--no-bundled", "--rules", TEST_RULES, *args])
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    return result


def errors(result: Result) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith("error: ")]


def child(*args: str, cwd: Path, timeout: float = 60, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """The command line in a fresh process (what could block is killed by the timeout)."""
    env = {k: v for k, v in os.environ.items() if k != confine.ALLOW_ENV}
    return subprocess.run([EXE, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env,
                          **kwargs)  # type: ignore[call-overload]


# --- symbolic links that leave the allowed roots -----------------------------------------------

def test_symlink_to_a_secret_in_a_folder_is_refused_without_echoing_it(tmp_path: Path) -> None:
    target = secret_file(tmp_path / "outside")
    case_file(tmp_path / "cases" / "ok.yaml")
    (tmp_path / "cases" / "x.yaml").symlink_to(target)
    result = assess("cases")
    assert result.exit_code == 2 and SECRET not in result.output
    (line,) = [e for e in errors(result) if "x.yaml" in e]
    assert line.startswith("error: cases/x.yaml: symbolic link leads outside") and confine.ALLOW_ENV in line


def test_symlink_to_a_secret_named_directly_is_refused(tmp_path: Path) -> None:
    target = secret_file(tmp_path / "outside")
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "x.yaml").symlink_to(target)
    result = assess("cases/x.yaml")
    assert result.exit_code == 2 and SECRET not in result.output
    assert errors(result)[0].startswith("error: cases/x.yaml: this file is reached through a symbolic link")


def test_absolute_symlink_to_etc_passwd_is_refused(tmp_path: Path) -> None:
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "passwd.yaml").symlink_to("/etc/passwd")
    result = assess("cases")
    assert result.exit_code == 2 and "root:" not in result.output
    assert "symbolic link leads outside" in errors(result)[0]


def test_a_folder_that_is_a_symlink_out_of_its_parent_is_not_walked(tmp_path: Path) -> None:
    secret_file(tmp_path / "outside")
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "cases").symlink_to(tmp_path / "outside")
    result = assess("work/cases")
    assert result.exit_code == 2 and SECRET not in result.output
    (line,) = errors(result)
    assert line.startswith("error: work/cases: this folder is reached through a symbolic link")


def test_links_inside_the_repository_are_followed(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()                      # the repository root: an allowed root
    shared = case_file(tmp_path / "shared" / "case.yaml", "shared-case")
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "linked.yaml").symlink_to(shared)
    (tmp_path / "cases" / "more").symlink_to(tmp_path / "shared", target_is_directory=True)
    files, problems = scan_case_files(["cases"])
    assert problems == [] and [f.name for f in files] == ["linked.yaml", "case.yaml"]
    assert [c.case.id for c in load_cases(["cases"])] == ["shared-case"]   # one target, loaded once


def test_allowed_folders_come_from_the_environment_not_the_config(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    shared = case_file(tmp_path / "shared" / "case.yaml", "shared-case")
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "linked.yaml").symlink_to(shared)
    with pytest.raises(CaseLoadError, match="symbolic link leads outside"):
        load_cases(["cases"])
    monkeypatch.setenv(confine.ALLOW_ENV, str(tmp_path / "shared"))
    assert [c.case.id for c in load_cases(["cases"])] == ["shared-case"]


# --- special files -------------------------------------------------------------------------------

def test_fifo_in_a_folder_and_named_directly_is_never_opened(tmp_path: Path) -> None:
    case_file(tmp_path / "cases" / "ok.yaml")
    os.mkfifo(tmp_path / "cases" / "pipe.yaml")
    for target in ("cases", "cases/pipe.yaml"):
        res = child("assess", target, "--no-config", "--no-bundled", "--rules", TEST_RULES, cwd=tmp_path, timeout=60)
        assert res.returncode == 2 and "Traceback" not in res.stderr
        assert "error: cases/pipe.yaml: a FIFO (named pipe), not a regular file; not read" in res.stderr.splitlines()


def test_dev_zero_as_a_case_path_is_refused_at_once(tmp_path: Path) -> None:
    res = child("assess", "/dev/zero", "--no-config", "--no-bundled", "--rules", TEST_RULES, cwd=tmp_path, timeout=60)
    assert res.returncode == 2 and "Traceback" not in res.stderr and "MemoryError" not in res.stderr
    assert "error: /dev/zero: a character device, not a regular file; not read" in res.stderr.splitlines()


def test_junk_in_a_folder_is_reported_with_its_reason(tmp_path: Path) -> None:
    cases = tmp_path / "cases"
    case_file(cases / "ok.yaml")
    add_link_junk(cases, "dir.yaml")
    (cases / ".hidden.yaml").symlink_to(cases / "nowhere.yaml")   # hidden entries are skipped on purpose
    (cases / "notes.txt").symlink_to(cases / "nowhere.txt")        # not a case file by its name
    result = assess("cases")
    assert result.exit_code == 2
    assert errors(result) == [
        "error: cases/dangling.yaml: dangling symbolic link (its target does not exist); not read",
        "error: cases/dir.yaml: a folder named like a case file; its files are walked, the folder itself is not a file",
        "error: cases/loop-a.yaml: symbolic link loop; not read",
        "error: cases/loop-b.yaml: symbolic link loop; not read",
        "error: cases/sub/up: symbolic link loop (leads back to a folder being walked); not followed",
    ]


def _unreadable_folder_run(work: Path) -> subprocess.CompletedProcess[str]:
    args = ["assess", "cases", "--no-config", "--no-bundled", "--rules", TEST_RULES]
    if os.geteuid() != 0:
        return child(*args, cwd=work)
    # root reads any folder: run the command as "nobody" (setpriv), where this machine allows it
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and no setpriv to drop to an unprivileged user")
    env = {k: v for k, v in os.environ.items() if k != confine.ALLOW_ENV}
    return subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", EXE, *args], cwd=work,
                          capture_output=True, text=True, timeout=60, env=env)


def test_unreadable_sub_folder_is_reported() -> None:
    work = Path(tempfile.mkdtemp(prefix="policycheck-hostile-"))  # world-readable, for "nobody"
    try:
        os.chmod(work, 0o755)
        case_file(work / "cases" / "ok.yaml")
        (work / "cases" / "locked").mkdir()
        case_file(work / "cases" / "locked" / "hidden.yaml", "hidden")
        for p in (work / "cases", work / "cases" / "ok.yaml"):
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
        os.chmod(work / "cases" / "locked", 0)
        try:
            res = _unreadable_folder_run(work)
        except (PermissionError, OSError, subprocess.SubprocessError) as exc:  # pragma: no cover
            pytest.skip(f"cannot run as an unprivileged user here: {exc}")
        if os.geteuid() == 0 and "cannot read this folder" not in res.stderr:
            pytest.skip(f"the unprivileged user cannot run the tool here: {res.stderr[-200:]}")  # pragma: no cover
        assert res.returncode == 2 and "Traceback" not in res.stderr
        assert ("error: cases/locked: cannot read this folder: Permission denied; its files are not assessed"
                in res.stderr.splitlines())
    finally:
        os.chmod(work / "cases" / "locked", 0o755)
        shutil.rmtree(work)


def test_a_file_name_that_is_not_utf8_is_shown_escaped(tmp_path: Path) -> None:
    cases = tmp_path / "cases"
    case_file(cases / "ok.yaml")
    os.mkfifo(os.path.join(os.fsencode(cases), b"bad\xff\x1b[2J.yaml"))
    files, problems = scan_case_files([cases])
    (problem,) = problems
    assert problem.render().endswith("bad\\xff\\x1b[2J.yaml: a FIFO (named pipe), not a regular file; not read")
    assert "\x1b" not in problem.render()


def test_walks_are_bounded_by_the_files_limit(tmp_path: Path) -> None:
    for i in range(12):
        (tmp_path / "cases" / f"d{i}").mkdir(parents=True)
    with limits.using(limits.Limits(files=5)):
        files, problems = scan_case_files(["cases"])
    assert "more than 5 entries under this folder" in problems[-1].message


# --- sizes: checked before reading, reads bounded ------------------------------------------------

def test_size_is_checked_with_stat_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"x" * 5000)
    reads: list[int] = []
    real_read = os.read
    monkeypatch.setattr(os, "read", lambda fd, n: reads.append(n) or real_read(fd, n))
    with limits.using(limits.Limits(file_bytes=1000)), pytest.raises(InputError, match="larger than 1000 bytes"):
        read_bytes(big)
    assert reads == []   # refused on its size alone


def test_reads_are_bounded_even_when_the_size_is_not_known_in_advance() -> None:
    """/proc files are regular files whose size says 0: the read itself stops at limit + 1."""
    path = "/proc/self/status"
    if not os.path.exists(path) or os.stat(path).st_size != 0:
        pytest.skip("no /proc here")
    with pytest.raises(InputError, match="larger than 50 bytes"):
        read_bytes(path, max_bytes=50)


# --- rules folders, config paths, fixture case_file ----------------------------------------------

def test_rules_slash_does_not_walk_the_machine(tmp_path: Path) -> None:
    case_file(tmp_path / "case.yaml")
    res = child("assess", "case.yaml", "--no-config", "--no-bundled", "--rules", "/", cwd=tmp_path, timeout=60)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert ("error: /: refusing to walk the filesystem root as a rules folder; name the folder that holds the rule "
            "files") in res.stderr.splitlines()
    assert len([ln for ln in res.stderr.splitlines() if ln.startswith("error:")]) == 1


def test_a_rules_folder_linked_out_of_its_parent_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "rules").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(InputError, match="this rules folder is reached through a symbolic link"):
        load_rules(["policy/rules"], bundled=False)


def test_rule_files_linked_outside_the_rules_folder_are_refused(tmp_path: Path) -> None:
    target = secret_file(tmp_path / "outside", "r.yaml")
    (tmp_path / "rules" / "fam").mkdir(parents=True)
    (tmp_path / "rules" / "fam" / "r.yaml").symlink_to(target)
    with pytest.raises(InputError) as caught:
        load_rules(["rules"], bundled=False)
    assert SECRET not in str(caught.value) and "symbolic link leads outside" in str(caught.value)


@pytest.mark.parametrize("key, value", [("waivers", "../outside/secret.yaml"), ("baseline", "/etc/passwd"),
                                        ("waivers", "/dev/zero"), ("rules", "/")])
def test_config_paths_must_stay_inside_the_project(tmp_path: Path, key: str, value: str) -> None:
    secret_file(tmp_path / "outside")
    project = tmp_path / "project"
    project.mkdir()
    text = f"{key}: [{value!r}]\n" if key == "rules" else f"{key}: {value!r}\n"
    (project / ".policycheck.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_config(project / ".policycheck.yaml")
    (problem,) = caught.value.problems
    assert problem.location.line == 1 and "is outside this file's folder and the repository" in problem.message
    assert SECRET not in str(caught.value)


def test_a_config_path_inside_the_project_linked_outside_is_refused_when_read(tmp_path: Path) -> None:
    target = secret_file(tmp_path / "outside")
    project = tmp_path / "project"
    (project / "policy").mkdir(parents=True)
    (project / "policy" / "waivers.yaml").symlink_to(target)
    (project / ".policycheck.yaml").write_text("waivers: policy/waivers.yaml\n", encoding="utf-8")
    case_file(project / "case.yaml")
    res = child("assess", "case.yaml", "--config", ".policycheck.yaml", "--no-bundled", "--rules", TEST_RULES,
                cwd=project)
    assert res.returncode == 2 and SECRET not in res.stderr + res.stdout and "Traceback" not in res.stderr
    # refused when the configuration is read: the path resolves outside the project
    assert "error: .policycheck.yaml:1:1: waivers: 'policy/waivers.yaml' is outside this file's folder" in res.stderr


def test_a_waivers_file_named_on_the_command_line_linked_outside_is_refused(tmp_path: Path) -> None:
    target = secret_file(tmp_path / "outside")
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "waivers.yaml").symlink_to(target)
    case_file(tmp_path / "case.yaml")
    result = assess("case.yaml", "--waivers", "policy/waivers.yaml")
    assert result.exit_code == 2 and SECRET not in result.output
    assert "error: policy/waivers.yaml: this file is reached through a symbolic link" in result.output


def fixture_pack(tmp_path: Path, case_file_value: str) -> Path:
    rules = tmp_path / "pack"
    shutil.copytree(TEST_RULES, rules)
    fam = next(p for p in sorted(rules.iterdir()) if p.is_dir())
    rule = next(p for p in sorted(fam.glob("*.yaml")) if ".test." not in p.name)
    (fam / f"{rule.stem}.test.yaml").write_text(
        "tests:\n  - name: A fixture whose case file is somewhere it should not be\n"
        f"    case_file: {case_file_value}\n    expect: {{fires: true}}\n", encoding="utf-8")
    return rules


@pytest.mark.parametrize("value", ["../../..", "/etc/passwd", "LINK"])
def test_fixture_case_file_is_confined(tmp_path: Path, value: str) -> None:
    target = secret_file(tmp_path / "outside")
    if value == "LINK":
        rules = fixture_pack(tmp_path, "linked.yaml")
        fam = next(p for p in sorted(rules.iterdir()) if p.is_dir())
        (fam / "linked.yaml").symlink_to(target)
    else:
        rules = fixture_pack(tmp_path, value)
    with pytest.raises(InputError) as caught:
        load_suite([rules])
    text = str(caught.value)
    assert "leads outside the rules folder and the repository; not read" in text and SECRET not in text
    assert "root:" not in text
    res = CliRunner().invoke(main, ["test", str(rules)])
    assert res.exit_code == 2 and "Traceback" not in res.output and SECRET not in res.output


def test_fixture_case_file_inside_the_rules_folder_is_read(tmp_path: Path) -> None:
    rules = fixture_pack(tmp_path, "../cases/case.yaml")
    case_file(rules / "cases" / "case.yaml")
    suite = load_suite([rules])
    assert any(t.case.case.id == "minimal" for t in suite.tests)


# --- what messages may quote ---------------------------------------------------------------------

def test_an_unknown_key_is_quoted_as_a_short_escaped_excerpt() -> None:
    key = "k\x1b]8;;https://evil.example\x07" + "A" * 900   # YAML keys stop at 1024 characters
    text = MINIMAL.replace("title: A minimal", f'"{key.encode("unicode_escape").decode()}": 1\ntitle: A minimal')
    with pytest.raises(CaseLoadError) as caught:
        load_case_text(text, "case.yaml")
    (line,) = caught.value.lines()
    assert "\x1b" not in line and "\x07" not in line and "\\x1b]8;;https://evil.example\\x07" in line
    assert len(line) < 200 and line.count("A" * 30) <= 2 and "..." in line


def test_a_newline_in_a_key_cannot_forge_an_error_line() -> None:
    text = MINIMAL.replace("title: A minimal", '"x\\nerror: forged": 1\ntitle: A minimal')
    with pytest.raises(CaseLoadError) as caught:
        load_case_text(text, "case.yaml")
    (line,) = caught.value.lines()
    assert "\n" not in line and "x\\x0aerror: forged" in line


def test_lone_surrogate_in_text_is_the_librarys_error() -> None:
    with pytest.raises(CaseLoadError, match="lone surrogate"):
        load_case_text("id: a\ud800\n")


def test_iter_case_files_keeps_refused_entries_for_the_loader(tmp_path: Path) -> None:
    case_file(tmp_path / "cases" / "ok.yaml")
    (tmp_path / "cases" / "d.yaml").symlink_to(tmp_path / "nowhere")
    found = list(iter_case_files(["cases"]))
    assert [type(p) is confine.RefusedPath for p in found] == [True, False]
    with pytest.raises(CaseLoadError, match="dangling"):
        load_case(found[0])
    assert stat.S_ISREG(os.stat(found[1]).st_mode)
