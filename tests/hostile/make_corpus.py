"""Build the hostile-input corpus of issue 12 into a temporary folder, each attack with its
expected safe outcome.

Every attack of issue 12's "Why" is rebuilt here from small generated inputs (nothing big is
checked in; the 1 MB case, the 20,000-party case and the 3.6 MB baseline are written when the
corpus is built). ``build(folder)`` returns one ``Entry`` per attack: the command line to run
(in ``entry.cwd``, a folder of its own under ``folder``), the exit codes that are safe, a time
bound and predicates on the outcome ("no line of the target's content appears", "no ESC byte in
stdout", ...). tests/test_hostile_corpus.py runs every entry through the real CLI.

Entries the current code does NOT handle safely are named in ``KNOWN_UNSAFE``: their
assertions are kept as they are, and the test asserts they are *still* unsafe, so a fix flips
the test and forces the list to be updated.

Run as a script to build a corpus and list it::

    .venv/bin/python tests/hostile/make_corpus.py /tmp/corpus
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEST_RULES = str(ROOT / "tests" / "data" / "rules")
MINIMAL = (ROOT / "tests" / "data" / "cases" / "minimal.yaml").read_text(encoding="utf-8")
SECRET = "SECRET-LINE-7f3a"                   # every line of the "outside" target carries it
ASSESS = ("--no-config", "--no-bundled", "--rules", TEST_RULES)

# Corpus entries that the current code does not handle safely (see the report of issue 12).
# Each stays asserted: tests/test_hostile_corpus.py checks that every one is STILL unsafe.
KNOWN_UNSAFE: frozenset[str] = frozenset()  # none at the time of writing


@dataclass(frozen=True)
class Outcome:
    """What one run did: exit code (None: killed by the time bound), streams, seconds taken."""

    exit_code: int | None
    stdout: str
    stderr: str
    seconds: float
    cwd: Path
    crashed: str | None = None     # an exception that escaped the CLI (in-process runs)

    @property
    def output(self) -> str:
        return self.stdout + "\n" + self.stderr


@dataclass(frozen=True)
class Check:
    """A predicate on an outcome, with what it asserts in words."""

    what: str
    test: Callable[[Outcome], bool]


@dataclass(frozen=True)
class Entry:
    name: str
    attack: str                       # the attack, as issue 12 words it
    cwd: Path
    argv: tuple[str, ...]
    exit_codes: frozenset[int]
    checks: tuple[Check, ...] = ()
    seconds: float = 10.0             # finishes under this many seconds
    child: bool = False               # run in a fresh process (it could block, or needs signals/TZ)
    stdin: bytes | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    send: int | None = None           # a signal to send once a temporary output file exists
    as_nobody: bool = False           # when root: run as an unprivileged user (setpriv)
    umask: int | None = None

    def failures(self, out: Outcome) -> list[str]:
        """Everything about ``out`` that is not the safe outcome (empty: safe)."""
        bad: list[str] = []
        if out.crashed:
            bad.append(f"crashed: {out.crashed}")
        if out.exit_code is None:
            bad.append(f"did not finish within {self.seconds} s")
        elif out.exit_code not in self.exit_codes:
            bad.append(f"exit {out.exit_code}, expected one of {sorted(self.exit_codes)}")
        if "Traceback (most recent call last)" in out.output:
            bad.append("a traceback was printed")
        if out.seconds > self.seconds:
            bad.append(f"took {out.seconds:.1f} s (bound {self.seconds} s)")
        for check in (*COMMON, *self.checks):
            try:
                ok = check.test(out)
            except Exception as exc:  # a predicate that cannot even be evaluated is a failure
                ok, why = False, f" ({type(exc).__name__}: {exc})"
            else:
                why = ""
            if not ok:
                bad.append(check.what + why)
        return bad


# --- predicates -------------------------------------------------------------------------------

ERROR_LINE = re.compile(r"^error: [^\s:][^:]*(:\d+){0,2}: \S")
CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def add_link_junk(cases: Path, directory_name: str) -> None:
    """Into ``cases``: a dangling link, a loop of two links, a directory named like a case
    file and a sub-folder with a link back up (each must be reported, none followed)."""
    (cases / "dangling.yaml").symlink_to(cases / "nowhere.yaml")
    (cases / "loop-a.yaml").symlink_to(cases / "loop-b.yaml")
    (cases / "loop-b.yaml").symlink_to(cases / "loop-a.yaml")
    (cases / directory_name).mkdir()
    (cases / "sub").mkdir()
    (cases / "sub" / "up").symlink_to(cases, target_is_directory=True)


def no_text(text: str) -> Check:
    return Check(f"{text!r} appears nowhere in stdout or stderr", lambda o: text not in o.output)


def no_secret() -> Check:
    return no_text(SECRET)


def errors_located() -> Check:
    """Every ``error:`` line on stderr names a place: ``error: FILE[:LINE[:COL]]: message``."""
    def test(o: Outcome) -> bool:
        lines = [ln for ln in o.stderr.splitlines() if ln.startswith("error")]
        return all(ERROR_LINE.match(ln) for ln in lines)
    return Check("every error line is one located line (error: FILE[:LINE[:COL]]: ...)", test)


def error_with(*parts: str) -> Check:
    return Check(f"an error line contains all of {parts!r}",
                 lambda o: any(ln.startswith("error: ") and all(p in ln for p in parts)
                               for ln in o.stderr.splitlines()))


def stderr_with(part: str) -> Check:
    return Check(f"stderr contains {part!r}", lambda o: part in o.stderr)


def stdout_with(part: str) -> Check:
    return Check(f"stdout contains {part!r}", lambda o: part in o.stdout)


def no_controls(where: str = "output") -> Check:
    def test(o: Outcome) -> bool:
        text = {"stdout": o.stdout, "stderr": o.stderr}.get(where, o.output)
        return CONTROLS.search(text) is None
    return Check(f"no C0/C1 control, ESC, BEL or bidi override in {where}", test)


def no_forged_line(prefix: str = "error: forged") -> Check:
    return Check(f"no line of output starts with {prefix!r}",
                 lambda o: not any(ln.startswith(prefix) for ln in o.output.splitlines()))


def no_temp_files() -> Check:
    return Check("no .policycheck-* temporary file is left",
                 lambda o: not any(p.name.startswith(".policycheck-") for p in o.cwd.rglob("*")))


def path_is(name: str, kind: Callable[[int], bool], words: str) -> Check:
    return Check(f"{name} is still {words}", lambda o: kind(os.lstat(o.cwd / name).st_mode))


def absent(name: str) -> Check:
    return Check(f"{name} was not written", lambda o: not os.path.lexists(o.cwd / name))


def written(*names: str) -> Check:
    return Check(f"{', '.join(names)} written", lambda o: all((o.cwd / n).is_file() for n in names))


def mode_is(name: str, mode: int) -> Check:
    return Check(f"{name} has mode {mode:o}", lambda o: stat.S_IMODE(os.stat(o.cwd / name).st_mode) == mode)


def file_lacks(name: str, *texts: str) -> Check:
    return Check(f"{name} contains none of {texts!r}",
                 lambda o: not any(t in (o.cwd / name).read_text(encoding="utf-8", errors="replace") for t in texts))


def short_error_lines(most: int) -> Check:
    return Check(f"every error line is under {most} characters",
                 lambda o: all(len(ln) < most for ln in o.stderr.splitlines() if ln.startswith("error")))


def error_count(n: int) -> Check:
    return Check(f"exactly {n} error line(s)",
                 lambda o: len([ln for ln in o.stderr.splitlines() if ln.startswith("error: ")]) == n)


def _outside_code(md: str) -> str:
    return re.sub(r"`[^`\n]*`", "", md.replace("\\`", ""))


def markdown_neutral(mention: str = "octocat", ref: str = "123") -> Check:
    """No live ``@mention`` or ``#N`` reference (outside code spans) and no control character."""
    def test(o: Outcome) -> bool:
        text = _outside_code(o.stdout)
        live = re.search(rf"(?<![\w&`]){'@' + mention}", text) or re.search(rf"(?<![\w&`])#{ref}(?!\d)", text)
        return not live and CONTROLS.search(o.stdout) is None
    return Check(f"no live @{mention} or #{ref} and no control character in the Markdown", test)


def tables_keep_columns() -> Check:
    """Every row of a Markdown table has as many unescaped ``|`` as its header."""
    def test(o: Outcome) -> bool:
        width = None
        for line in o.stdout.splitlines():
            if not line.startswith("|"):
                width = None
                continue
            n = len(re.findall(r"(?<!\\)\|", line))
            if width is None:
                width = n
            elif n != width:
                return False
        return True
    return Check("every Markdown table row has its header's number of columns", test)


def json_stdout(test: Callable[[object], bool], what: str) -> Check:
    return Check(what, lambda o: test(json.loads(o.stdout)))


def _strings(data: object, key: str) -> list[str]:
    """Every string value under ``key`` anywhere in parsed JSON."""
    if isinstance(data, dict):
        here = [v for k, v in data.items() if k == key and isinstance(v, str)]
        return here + [s for v in data.values() for s in _strings(v, key)]
    if isinstance(data, list):
        return [s for v in data for s in _strings(v, key)]
    return []


def sarif_links_safe() -> Check:
    """SARIF (when written): every ``helpUri`` is http(s) and no ``markdown`` text links elsewhere."""
    def test(o: Outcome) -> bool:
        if o.exit_code == 2 and not o.stdout.strip():
            return True       # the rule pack was refused: nothing written
        data = json.loads(o.stdout)
        uris = _strings(data, "helpUri")
        links = [u for m in _strings(data, "markdown") for u in re.findall(r"\]\(([^)\s]*)", m)]
        return all(re.match(r"https?://", u) for u in uris + links)
    return Check("every SARIF helpUri and Markdown link is http(s)", test)


COMMON: tuple[Check, ...] = (errors_located(), no_secret())


# --- inputs -----------------------------------------------------------------------------------

def case_text(case_id: str = "minimal", *, title: str | None = None, version2: str | None = None,
              extra_top: str = "", as_of: str = "2024-01-31", date2: str = "2023-06-01") -> str:
    text = MINIMAL.replace("id: minimal", f"id: {case_id}").replace("as_of: 2024-01-31", f"as_of: {as_of}")
    text = text.replace("date: 2023-06-01", f"date: {date2}")
    if title is not None:
        text = text.replace("title: A minimal licence case", f"title: {title}")
    if version2 is not None:
        text = text.replace('version: "2.0"', f"version: {version2}")
    if extra_top:
        text = text.replace("summary:", extra_top + "\nsummary:", 1)
    return text


def put(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def big_case(versions: int = 1, parties: int = 1) -> str:
    """A JSON case (format v2) with many licence versions or parties."""
    import datetime as dt

    data = {
        "schema_version": 2, "id": "hostile", "title": "t", "kind": ["licence"], "as_of": "2060-01-01",
        "summary": "s", "sources": [{"id": "s", "title": "s", "date": "unknown", "kind": "primary"}],
        "parties": [{"id": f"p{i}", "name": f"P{i}"} for i in range(parties)],
        "licences": [{"id": "l", "name": "L", "kind": "model_licence", "licensor": "p0", "versions": [
            {"version": f"v{j}", "date": (dt.date(1990, 1, 1) + dt.timedelta(days=j)).isoformat(),
             "terms": {"commercial_use": "restricted" if j % 2 else "allowed"}} for j in range(versions)]}],
    }
    return json.dumps(data, separators=(",", ":"))


RULE_HEAD = """id: {id}
title: A generated rule
conditions: [C3]
severity: low
citation: {{source: CMA FM Initial Report, section: "§3.7.6"{url}}}
rationale: {rationale}
message: "{{v.version}} generated"
mitigation: none
when:
  all:
    - fact: licence_version
      as: v
"""


def rule_pack(folder: Path, rid: str, body: str = "", *, url: str = "", rationale: str = "generated") -> Path:
    url_part = f", url: {json.dumps(url)}" if url else ""
    put(folder / "gen" / f"{rid}.yaml", RULE_HEAD.format(id=rid, url=url_part, rationale=rationale) + body)
    return folder


def waivers(expires: str, rule: str = "t-latest-restricts-commercial", case: str = "minimal") -> str:
    return (f"schema_version: 1\nwaivers:\n  - rule: {rule}\n    case: {case}\n    reason: Accepted for a test.\n"
            f"    approver: j.smith\n    expires: {json.dumps(expires)}\n")


# --- the corpus -------------------------------------------------------------------------------

Builder = Callable[[Path, Path], "Entry | list[Entry]"]
BUILDERS: list[Builder] = []


def corpus(fn: Builder) -> Builder:
    BUILDERS.append(fn)
    return fn


def E(name: str, attack: str, cwd: Path, argv: Sequence[str], codes: Sequence[int], *checks: Check,
      **kw: object) -> Entry:
    return Entry(name, attack, cwd, tuple(argv), frozenset(codes), tuple(checks), **kw)  # type: ignore[arg-type]


@corpus
def _disclosure(here: Path, secret: Path) -> list[Entry]:
    a = here / "symlink-in-folder"
    put(a / "cases" / "ok.yaml", case_text())
    (a / "cases" / "x.yaml").symlink_to(secret)
    b = here / "symlink-named"
    (b / "cases").mkdir(parents=True)
    (b / "cases" / "x.yaml").symlink_to(secret)
    c = here / "symlink-etc-passwd"
    (c / "cases").mkdir(parents=True)
    (c / "cases" / "shadow.yaml").symlink_to("/etc/passwd")
    d = here / "rules-slash"
    put(d / "case.yaml", case_text())
    return [
        E("symlink-outside-in-folder", "ln -s /etc/shadow cases/x.yaml && policycheck assess cases/", a,
          ["assess", "cases", *ASSESS], [2], error_with("cases/x.yaml", "symbolic link leads outside")),
        E("symlink-outside-named", "a case named directly that is a link out of the tree", b,
          ["assess", "cases/x.yaml", *ASSESS], [2], error_with("cases/x.yaml", "symbolic link")),
        E("symlink-to-etc-passwd", "a case file linking to a system file", c,
          ["assess", "cases", *ASSESS], [2], no_text("root:"), error_with("shadow.yaml", "outside")),
        E("rules-filesystem-root", "--rules / read every YAML file on the machine (100 s, 126,889 lines)", d,
          ["assess", "case.yaml", "--no-config", "--no-bundled", "--rules", "/"], [2],
          error_count(1), error_with("/", "filesystem root"), seconds=15.0, child=True),
    ]


def _fixture_pack(folder: Path, value: str) -> Path:
    import shutil

    shutil.copytree(TEST_RULES, folder / "pack")
    put(folder / "pack" / "otc" / "t-latest-restricts-commercial.test.yaml",
        "tests:\n  - name: A fixture whose case file is somewhere it should not be\n"
        f"    case_file: {value}\n    expect: {{fires: true}}\n")
    return folder / "pack"


@corpus
def _fixtures(here: Path, secret: Path) -> list[Entry]:
    out = []
    for tag, value in (("dotdot", "../../../outside/secret.yaml"), ("absolute", str(secret)), ("link", "linked.yaml")):
        where = here / f"fixture-{tag}"
        pack = _fixture_pack(where, value)
        if tag == "link":
            (pack / "otc" / "linked.yaml").symlink_to(secret)
        out.append(E(f"fixture-case-file-{tag}", f"fixture case_file: ({tag}) escaping the rules folder", where,
                     ["test", "pack"], [2], no_text("root:"), error_with("leads outside")))
    return out


@corpus
def _waiver_paths(here: Path, secret: Path) -> list[Entry]:
    a = here / "config-waivers-outside"
    put(a / "case.yaml", case_text())
    put(a / ".policycheck.yaml", f"waivers: {secret}\n")
    b = here / "config-waivers-dev-zero"
    put(b / "case.yaml", case_text())
    put(b / ".policycheck.yaml", "waivers: /dev/zero\n")
    c = here / "waivers-fifo"
    put(c / "case.yaml", case_text())
    os.mkfifo(c / "waivers.yaml")
    d = here / "waivers-dev-zero-named"
    put(d / "case.yaml", case_text())
    e = here / "baseline-dev-zero"
    put(e / "case.yaml", case_text())
    cfg = ["--config", ".policycheck.yaml", "--no-bundled", "--rules", TEST_RULES]
    return [
        E("config-waivers-outside", "config waivers: pointing outside the project", a,
          ["assess", "case.yaml", *cfg], [2], error_with(".policycheck.yaml:1", "outside")),
        E("config-waivers-dev-zero", "waivers: /dev/zero in the configuration", b,
          ["assess", "case.yaml", *cfg], [2], error_with(".policycheck.yaml:1"), child=True),
        E("waivers-fifo", "--waivers naming a FIFO blocks forever", c,
          ["assess", "case.yaml", "--waivers", "waivers.yaml", *ASSESS], [2],
          error_with("waivers.yaml", "FIFO"), child=True),
        E("waivers-dev-zero-named", "--waivers /dev/zero reads until MemoryError", d,
          ["assess", "case.yaml", "--waivers", "/dev/zero", *ASSESS], [2],
          error_with("/dev/zero", "character device"), no_text("MemoryError"), child=True),
        E("baseline-dev-zero", "--baseline /dev/zero", e,
          ["assess", "case.yaml", "--baseline", "/dev/zero", *ASSESS], [2],
          error_with("/dev/zero"), no_text("MemoryError"), child=True),
    ]


@corpus
def _special_files(here: Path, secret: Path) -> list[Entry]:
    a = here / "dev-zero-case"
    a.mkdir()
    b = here / "fifo-named"
    b.mkdir()
    os.mkfifo(b / "pipe.yaml")
    c = here / "junk-folder"
    cases = c / "cases"
    put(cases / "ok.yaml", case_text())
    os.mkfifo(cases / "pipe.yaml")
    add_link_junk(cases, "x.yaml")
    d = here / "unreadable-sub-folder"
    put(d / "cases" / "ok.yaml", case_text())
    put(d / "cases" / "locked" / "hidden.yaml", case_text("hidden"))
    for p in (here, d, d / "cases", d / "cases" / "ok.yaml"):
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    os.chmod(d / "cases" / "locked", 0)
    return [
        E("dev-zero-as-case", "assess /dev/zero reads until MemoryError", a, ["assess", "/dev/zero", *ASSESS], [2],
          error_with("/dev/zero", "character device"), no_text("MemoryError"), child=True),
        E("fifo-named", "a FIFO named as a case blocks forever", b, ["assess", "pipe.yaml", *ASSESS], [2],
          error_with("pipe.yaml", "FIFO"), child=True),
        E("junk-in-folder", "FIFOs, dangling links, loops and directories named x.yaml skipped without a word",
          c, ["assess", "cases", *ASSESS], [2],
          error_with("cases/pipe.yaml", "FIFO"), error_with("cases/dangling.yaml", "dangling"),
          error_with("cases/loop-a.yaml", "loop"), error_with("cases/loop-b.yaml", "loop"),
          error_with("cases/x.yaml", "folder named like a case file"), error_with("cases/sub/up", "loop"),
          stdout_with("minimal"), child=True),
        E("unreadable-sub-folder", "an unreadable sub-folder skipped without a word", d,
          ["assess", "cases", *ASSESS], [2], error_with("cases/locked", "cannot read this folder"),
          child=True, as_nobody=True),
    ]


@corpus
def _cost(here: Path, secret: Path) -> list[Entry]:
    out = []
    for name, text, what in (("versions-15000", big_case(versions=15_000), "15,000 versions"),
                             ("versions-4000", big_case(versions=4_000), "4,000 versions"),
                             ("parties-20000", big_case(parties=20_000), "20,000 parties")):
        where = here / name
        put(where / "case.json", text)
        out.append(E(name, f"a case with {what} below the size limit (was up to 129 s and 3.1 GB)", where,
                     ["assess", "case.json", *ASSESS], [2], error_with("case.json", what), seconds=10.0))
    ok = here / "limit-raised-in-config"
    put(ok / "case.json", big_case(versions=105))
    put(ok / ".policycheck.yaml", "limits:\n  versions: 150\n  dates: 200\n  evaluations: 20000\n")
    out.append(E("limit-raised-in-config", "a limit raised in the configuration's limits: mapping", ok,
                 ["assess", "case.json", "--config", ".policycheck.yaml", "--no-bundled", "--rules", TEST_RULES],
                 [0], stdout_with("hostile"), seconds=15.0))
    bad = here / "limit-bad-in-config"
    put(bad / "case.yaml", case_text())
    put(bad / ".policycheck.yaml", "limits:\n  in_values: 600\n  verions: 3\n")
    out.append(E("limit-bad-in-config", "a configured limit past what the engine runs, and a misspelt one", bad,
                 ["assess", "case.yaml", "--config", ".policycheck.yaml", "--no-bundled", "--rules", TEST_RULES],
                 [2], error_with(".policycheck.yaml:2", "480"), error_with(".policycheck.yaml:3", "unknown limit")))
    values = ", ".join(f'"n{i}"' for i in range(512))
    wide = here / "rule-in-512"
    rule_pack(wide / "rules", "long-in", f"      where:\n        version: {{in: [{values}]}}\n")
    put(wide / "case.yaml", case_text())
    out.append(E("rule-in-512", "a rule with an in: list of 512 values hangs forever", wide,
                 ["assess", "case.yaml", "--no-config", "--no-bundled", "--rules", "rules"], [2],
                 error_with("rules/gen/long-in.yaml", "in"), seconds=20.0, child=True))
    branches = "".join(f"        - version: {{ne: s{i}}}\n" for i in range(65))
    anyof = here / "rule-any-of-65"
    rule_pack(anyof / "rules", "wide-any", "      any_of:\n" + branches)
    put(anyof / "case.yaml", case_text())
    out.append(E("rule-any-of-65", "any_of with 65 branches fails at assess time with durable error 303", anyof,
                 ["assess", "case.yaml", "--no-config", "--no-bundled", "--rules", "rules"], [2],
                 error_with("rules/gen/wide-any.yaml", "any_of"), no_text("error code: 303")))
    return out


@corpus
def _names_and_text(here: Path, secret: Path) -> list[Entry]:
    out = []
    a = here / "non-utf8-file-name"
    put(Path(os.fsdecode(os.path.join(os.fsencode(a / "cases"), b"bad\xff.yaml"))), case_text())
    out.append(E("non-utf8-file-name-outputs", "a case file name that is not UTF-8 crashes SARIF and every -o write",
                 a, ["assess", "cases", *ASSESS, "-o", "table.txt", "-o", "sarif:out.sarif", "-o", "markdown:out.md",
                     "-o", "json:out.json", "-o", "html:out.html", "-o", "junit:out.xml", "-o", "jsonl:out.jsonl"],
                 [0], written("table.txt", "out.sarif", "out.md", "out.json", "out.html", "out.xml", "out.jsonl"),
                 no_temp_files(), file_lacks("table.txt", "\udcff", "\ufffd")))
    b = here / "non-utf8-bad-case-name"
    put(Path(os.fsdecode(os.path.join(os.fsencode(b / "cases"), b"bad\xff\x1b[2J.yaml"))), "id: [\n")
    out.append(E("non-utf8-name-in-errors", "a bad case whose name is not UTF-8 and holds ESC", b,
                 ["assess", "cases", *ASSESS], [2], error_with("cases/bad\\xff\\x1b[2J.yaml:2:1"),
                 no_controls(), no_text("\ufffd"), child=True))
    out.append(E("non-utf8-file-name-stdout", "a case file name that is not UTF-8, shown in the table", a,
                 ["assess", "cases", *ASSESS], [0], stdout_with("cases/bad\\xff.yaml"), no_text("\ufffd"),
                 child=True))
    c = here / "newline-file-name"
    put(c / "cases" / "x\nerror: forged.yaml", "id: [\n")
    put(c / "cases" / "y\x1b]8;;evil.example\x07z\u202e\x9b2J.yaml", "id: [\n")
    out.append(E("newline-and-osc-in-file-name", "a newline in a file name forges an extra error: line", c,
                 ["assess", "cases", *ASSESS], [2], no_forged_line(), no_controls()))
    d = here / "key-injection"
    key = "x\\nerror: forged\\x1b]8;;https://evil.example\\x07" + "A" * 900
    put(d / "case.yaml", case_text(extra_top=f'"{key}": 1'))
    out.append(E("unknown-key-injection", "a newline, OSC 8 and 900 characters in an unknown key", d,
                 ["assess", "case.yaml", *ASSESS], [2], no_forged_line(), no_controls(), short_error_lines(300),
                 error_with("case.yaml:", "unknown field")))
    e = here / "terminal-controls"
    title = '"Hi \\e]8;;https://evil.example\\a link \\e]8;;\\a \\u202e bidi \\x07 bell \\e[2J \\x9b31m"'
    put(e / "case.yaml", case_text(title=title, version2='"v2 \\e[31m red"'))
    out.append(E("terminal-controls-in-case-strings", "ESC, BEL, OSC 8, CSI, bidi overrides in case strings reach "
                 "the table raw", e, ["assess", "case.yaml", *ASSESS], [0], no_controls(), stdout_with("minimal")))
    f = here / "lone-surrogate"
    put(f / "case.json", json.dumps(_case_json(title="bad \ud800 title"), ensure_ascii=True))
    out.append(E("lone-surrogate-json-escape", "a lone surrogate in case text (UnicodeEncodeError)", f,
                 ["assess", "case.json", *ASSESS, "--format", "json"], [0, 2], errors_located()))
    g = here / "surrogate-bytes-stdin"
    g.mkdir()
    out.append(E("surrogate-bytes-on-stdin", "UTF-8-encoded surrogate bytes on stdin", g,
                 ["assess", "-", *ASSESS], [2], error_with("<stdin>", "UTF-8"),
                 stdin=case_text().replace("A minimal", "A \udcff minimal").encode("utf-8", "surrogatepass")))
    return out


def _case_json(**top: object) -> dict[str, object]:
    import yaml

    data = yaml.safe_load(MINIMAL)
    for k in ("as_of",):
        data[k] = str(data[k])
    for s in data["sources"]:
        s["date"] = str(s["date"])
    for v in data["licences"][0]["versions"]:
        v["date"] = str(v["date"])
    data.update(top)
    return dict(data)


@corpus
def _markdown(here: Path, secret: Path) -> list[Entry]:
    a = here / "markdown-mentions"
    title = '"Ping @octocat about #123 \\e[31m \\a \\u202e"'
    put(a / "case.yaml", case_text(title=title, version2='"@octocat #123 `a|b`"'))
    b = here / "diff-pipe"
    put(b / "old.yaml", case_text())
    put(b / "new.yaml", case_text(version2='"2.0 `a|b` c|d"').replace(
        "commercial_use: restricted", "commercial_use: prohibited\n          field_of_use_restrictions: "
        '["no `x|y` use", "a | b", "`|`"]'))
    return [
        E("markdown-controls-mentions-refs", "Markdown for PR comments keeps raw controls, live @mentions and #123",
          a, ["assess", "case.yaml", *ASSESS, "--format", "markdown"], [0], markdown_neutral(), tables_keep_columns()),
        E("diff-markdown-pipe-in-code-span", "a | inside a code span breaks the diff table", b,
          ["diff", "old.yaml", "new.yaml", "--no-config", "--no-bundled", "--rules", TEST_RULES, "--format",
           "markdown"], [0, 1], tables_keep_columns(), stdout_with("a")),
    ]


@corpus
def _rule_pack_markup(here: Path, secret: Path) -> list[Entry]:
    out = []
    rationale = json.dumps("See [docs](javascript:alert(1)) <script>alert(2)</script> @octocat")
    for name, argv, checks in (
        ("rule-pack-javascript-url-sarif", ["assess", "case.yaml", "--no-config", "--no-bundled", "--rules", "rules",
                                            "--format", "sarif"], (sarif_links_safe(),)),
        ("rule-pack-javascript-url-catalogue", ["rules", "--no-bundled", "--rules", "rules", "--format", "markdown"],
         (no_text("](javascript:"), no_text("<script>"))),
        ("html-rule-pack-markup", ["assess", "case.yaml", "--no-config", "--no-bundled", "--rules", "rules",
                                   "--format", "html"], (no_text("<script>alert"), no_text('href="javascript:'),
                                                         no_text("href='javascript:"))),
    ):
        where = here / name
        rule_pack(where / "rules", "js-url", url="javascript:alert(1)", rationale=rationale)
        put(where / "case.yaml", case_text())
        out.append(E(name, "the rule catalogue and SARIF helpUri/help.markdown pass rule-pack markup and "
                     "javascript: URLs through", where, argv, [0, 2], *checks))
    return out


@corpus
def _files(here: Path, secret: Path) -> list[Entry]:
    out = []
    a = here / "output-onto-fifo"
    put(a / "case.yaml", case_text())
    os.mkfifo(a / "out.json")
    out.append(E("output-onto-fifo", "-o onto a FIFO", a, ["assess", "case.yaml", *ASSESS, "-o", "json:out.json"],
                 [2], path_is("out.json", stat.S_ISFIFO, "a FIFO"), no_temp_files(), error_with("out.json")))
    b = here / "output-onto-device"
    put(b / "case.yaml", case_text())
    try:   # a null device of our own (root only): replacing it would be harmless
        os.mknod(b / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        device, test, words = "null", stat.S_ISCHR, "a character device"
    except OSError:
        (b / "null").symlink_to("/dev/null")
        device, test, words = "null", stat.S_ISLNK, "a symbolic link"
    out.append(E("output-onto-device", "-o onto a device node replaces it with a regular file", b,
                 ["assess", "case.yaml", *ASSESS, "-o", f"sarif:{device}"], [2], path_is(device, test, words),
                 no_temp_files(), error_with(device)))
    c = here / "output-onto-dev-null-link"
    put(c / "case.yaml", case_text())
    (c / "sink").symlink_to("/dev/null")
    out.append(E("output-onto-link-to-dev-null", "-o onto a symbolic link to /dev/null", c,
                 ["assess", "case.yaml", *ASSESS, "-o", "sink"], [2], path_is("sink", stat.S_ISLNK, "a link"),
                 no_temp_files()))
    d = here / "report-mode"
    put(d / "case.yaml", case_text())
    out.append(E("report-permissions-follow-umask", "reports are 0600", d,
                 ["assess", "case.yaml", *ASSESS, "-o", "json:out.json", "-o", "sarif:out.sarif"], [0],
                 mode_is("out.json", 0o644), mode_is("out.sarif", 0o644), no_temp_files(), umask=0o022))
    for sig, code, name in ((signal.SIGINT, 130, "sigint"), (signal.SIGTERM, 143, "sigterm")):
        where = here / f"{name}-during-write"
        where.mkdir()
        out.append(E(f"{name}-during-write", "Ctrl-C / SIGTERM during the write leaves .policycheck-XXXX temp files;"
                     " Ctrl-C exits 1", where, ["assess", "-", *ASSESS, "-o", "json:out.json", "-o", "sarif:out.sarif"],
                     [code], no_temp_files(), absent("out.json"), absent("out.sarif"), child=True, send=sig,
                     seconds=20.0))
    return out


def _baseline_entries(cases: int, per_case: int) -> list[dict[str, object]]:
    return [{"case": f"case-{i:05d}", "rule": f"rule-{k}", "fingerprint": f"{i * per_case + k:016x}",
             "severity": "medium", "facts": [f"licence_version case-{i:05d}-licence@{k}.0",
                                             f"party case-{i:05d}-developer", "case case-{i:05d}"]}
            for i in range(cases) for k in range(per_case)]


@corpus
def _read_back(here: Path, secret: Path) -> list[Entry]:
    a = here / "baseline-5000"
    put(a / "case.yaml", case_text())
    entries = _baseline_entries(5_000, 3)
    put(a / "baseline.json", json.dumps({"policycheck_baseline": 1, "rule_pack": "0" * 16, "flags": entries},
                                        indent=2, sort_keys=True) + "\n")
    b = here / "assessment-as-baseline"
    put(b / "case.yaml", case_text())
    return [
        E("baseline-5000-cases-read-back", "a 5,000-case baseline (3.6 MB) is refused by --baseline as larger than "
          "2000000 bytes", a, ["assess", "case.yaml", *ASSESS, "--baseline", "baseline.json"], [0],
          no_text("larger than"), seconds=20.0),
        E("assessment-json-as-baseline-over-2mb", "an assessment JSON over 2 MB is refused by --baseline",
          b, ["assess", "case.yaml", *ASSESS, "--baseline", "assessment.json"], [0], no_text("larger than"),
          seconds=20.0),
    ]


def write_big_assessment(folder: Path, minimum: int = 2_500_000) -> Path:
    """An assessment JSON (``assess --format json``) of many copies of the minimal case, over
    ``minimum`` bytes; written by the CLI itself then multiplied (needs policycheck importable)."""
    from click.testing import CliRunner

    from policycheck.cli import main

    res = CliRunner().invoke(main, ["assess", str(folder / "case.yaml"), *ASSESS, "--format", "json"])
    data = json.loads(res.stdout)
    one = data["cases"][0]
    size = len(json.dumps(one))
    copies = []
    for i in range(minimum // max(size, 1) + 1):
        c = json.loads(json.dumps(one))
        c["case"] = f"minimal-{i:05d}"
        copies.append(c)
    data["cases"] = copies
    path = folder / "assessment.json"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


@corpus
def _dates(here: Path, secret: Path) -> list[Entry]:
    out = []
    for name, kw, where_field in (
        ("full-width-as-of", {"as_of": "２０２４-01-31"}, "as_of"),
        ("arabic-indic-version-date", {"date2": "٢٠٢٣-٠٦-٠١"}, "licences[0].versions[1].date"),
    ):
        where = here / name
        put(where / "case.yaml", case_text(**kw))
        out.append(E(name, "full-width and Arabic-Indic digits pass as dates", where,
                     ["assess", "case.yaml", *ASSESS], [2], error_with("case.yaml:", where_field)))
    for name, expires in (("waiver-iso-week-expiry", "2029-W01-1"), ("waiver-full-width-expiry", "２０２９-01-01"),
                          ("waiver-arabic-indic-expiry", "٢٠٢٩-٠١-٠١")):
        where = here / name
        put(where / "case.yaml", case_text())
        put(where / "waivers.yaml", waivers(expires))
        out.append(E(name, f"{expires} passes as a waiver expiry", where,
                     ["assess", "case.yaml", *ASSESS, "--waivers", "waivers.yaml"], [2],
                     error_with("waivers.yaml:", "expires")))
    import datetime as dt

    today = dt.datetime.now(dt.timezone.utc).date()
    for tz in ("Etc/GMT-14", "Etc/GMT+12"):
        where = here / f"waiver-clock-{tz.replace('/', '-')}"
        put(where / "case.yaml", case_text())
        put(where / "waivers.yaml", waivers(today.isoformat()))
        out.append(E(f"waiver-expiring-today-TZ={tz}", "whether a waiver expiring today has expired depends on TZ",
                     where, ["assess", "case.yaml", *ASSESS, "--waivers", "waivers.yaml", "--fail-on", "low"], [0],
                     no_text("waiver expired"), stdout_with("1 waived"), env={"TZ": tz}, child=True))
    for name, day, code in (("waiver-today-flag-last-day", "2030-01-01", 0), ("waiver-today-flag-day-after",
                                                                               "2030-01-02", 1)):
        where = here / name
        put(where / "case.yaml", case_text())
        put(where / "waivers.yaml", waivers("2030-01-01"))
        out.append(E(name, "the waiver clock is --today when given (valid through the expiry day)", where,
                     ["assess", "case.yaml", *ASSESS, "--waivers", "waivers.yaml", "--fail-on", "low", "--today", day],
                     [code]))
    s = here / "explicit-str-tag"
    put(s / "case.yaml", case_text(version2="!!str 123"))
    out.append(E("explicit-str-tag", "an explicit !!str 123 is refused", s, ["assess", "case.yaml", *ASSESS,
                 "--format", "json"], [0], json_stdout(lambda d: "123" in json.dumps(d), "the version 123 is kept")))
    return out


@corpus
def _read_back_streamed(here: Path, secret: Path) -> list[Entry]:
    """Outputs read back as streams (docs/security.md, "Reading back what the tool wrote"): JSON
    Lines as a baseline, and the ways a streamed file could still cost too much or crash."""
    a = here / "jsonl-as-baseline"
    put(a / "case.yaml", case_text())      # a.jsonl: written by the CLI itself (finish_build)
    b = here / "baseline-nan"
    put(b / "case.yaml", case_text())
    put(b / "baseline.json", '{\n  "flags": [\n    {"case": "minimal", "rule": "r", "fingerprint": "0123456789abcdef", '
        '"severity": "high", "facts": [NaN]}\n  ],\n  "policycheck_baseline": 1,\n  "rule_pack": "x"\n}\n')
    c = here / "baseline-deep-nesting"
    put(c / "case.yaml", case_text())
    put(c / "baseline.json", '{\n  "flags": [\n    ' + "[" * 200_000 + "\n")
    d = here / "jsonl-line-over-record-limit"
    put(d / "case.yaml", case_text())
    put(d / "limits.yaml", "limits:\n  report_bytes: 1000\n")
    put(d / "a.jsonl", json.dumps({"type": "error", "file": "x.yaml", "problems": []}) + "\n"
        + json.dumps({"type": "case", "case": "x" * 5000}) + "\n")
    e = here / "baseline-blank-flood"
    put(e / "case.yaml", case_text())
    put(e / "limits.yaml", "limits:\n  report_bytes: 100000\n")
    put(e / "baseline.json", "{" + " " * 300_000 + "}\n")
    own = ["--no-bundled", "--rules", TEST_RULES]
    return [
        E("jsonl-assessment-as-baseline", "an assessment in JSON Lines cannot be read back by --baseline", a,
          ["assess", "case.yaml", *ASSESS, "--baseline", "a.jsonl", "--fail-on", "info"], [0],
          stdout_with("in the baseline")),
        E("baseline-with-nan", "a streamed baseline holding NaN", b,
          ["assess", "case.yaml", *ASSESS, "--baseline", "baseline.json"], [2], error_with("baseline.json:3:5:", "NaN"),
          errors_located()),
        E("baseline-nested-200000-deep", "a streamed baseline nested 200,000 lists deep (RecursionError)", c,
          ["assess", "case.yaml", *ASSESS, "--baseline", "baseline.json"], [2],
          error_with("baseline.json:3:5:", "nested too deeply"), no_text("Traceback")),
        E("jsonl-line-over-record-limit", "one JSON Lines line larger than a record may be", d,
          ["assess", "case.yaml", "--config", "limits.yaml", *own, "--baseline", "a.jsonl"], [2],
          error_with("a.jsonl:2:1:", "line is longer than 1000 bytes", "limits.report_bytes")),
        E("baseline-blank-flood", "a streamed file of blank space read without end", e,
          ["assess", "case.yaml", "--config", "limits.yaml", *own, "--baseline", "baseline.json"], [2],
          error_with("baseline.json:1:", "blank space")),
    ]


def write_jsonl_assessment(folder: Path) -> Path:
    """The assessment of ``folder/case.yaml`` in JSON Lines, written by the CLI itself."""
    from click.testing import CliRunner

    from policycheck.cli import main

    path = folder / "a.jsonl"
    res = CliRunner().invoke(main, ["assess", str(folder / "case.yaml"), *ASSESS, "--exit-zero", "-q",
                                    "-o", f"jsonl:{path}"])
    assert res.exit_code == 0, res.output
    return path


def build(folder: str | os.PathLike[str]) -> list[Entry]:
    """Write the corpus under ``folder`` (an empty temporary folder) and return its entries."""
    top = Path(folder)
    secret = put(top / "outside" / "secret.yaml", "".join(f"root: {SECRET}-{i}\n" for i in range(3)))
    here = top / "entries"
    here.mkdir(parents=True)
    os.chmod(top, 0o755)
    entries: list[Entry] = []
    for fn in BUILDERS:
        made = fn(here, secret)
        entries.extend(made if isinstance(made, list) else [made])
    names = [e.name for e in entries]
    assert len(set(names)) == len(names), "corpus entry names must be unique"
    assert KNOWN_UNSAFE <= set(names), f"KNOWN_UNSAFE names no entry: {sorted(KNOWN_UNSAFE - set(names))}"
    return entries


def finish_build(entries: Sequence[Entry]) -> None:
    """The parts of the corpus written by the CLI itself (the over-2 MB assessment JSON)."""
    for e in entries:
        if e.name == "assessment-json-as-baseline-over-2mb" and not (e.cwd / "assessment.json").exists():
            write_big_assessment(e.cwd)
        if e.name == "jsonl-assessment-as-baseline" and not (e.cwd / "a.jsonl").exists():
            write_jsonl_assessment(e.cwd)


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1:
        print("usage: make_corpus.py EMPTY_FOLDER", file=sys.stderr)
        return 2
    entries = build(argv[0])
    finish_build(entries)
    for e in entries:
        mark = " (KNOWN UNSAFE)" if e.name in KNOWN_UNSAFE else ""
        print(f"{e.name}{mark}: exit {sorted(e.exit_codes)}; {e.attack}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
