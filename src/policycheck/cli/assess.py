"""`policycheck assess`: assess case files and write the flagged assessment.

A run reads every case file first (each bad file is reported as it is found, and the others
go on), then assesses the good ones in case-id order, one at a time, handing each case to
every output's writer (render/stream.py) as soon as it is assessed: memory stays flat in the
number of cases. Output files are written atomically (cli/outputs.py).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from policycheck.cli.common import (
    EXIT_FLAGGED, EXIT_INPUT, SEVERITIES, Fail, exit_codes_help, config, config_options, guard_run, interrupts,
    listing, load_pack, rules_option, today as parse_today, warn,
)
from policycheck.io.config import FORMATS

if TYPE_CHECKING:
    import datetime as dt

    from policycheck.cli.outputs import OutputSpec
    from policycheck.errors import Problem
    from policycheck.io.config import Options
    from policycheck.load.cases import LoadedCase
    from policycheck.model.assessment import CaseAssessment, FileError
    from policycheck.render.stream import Writer

ASSESS_FORMATS = FORMATS
EXPLAIN_FORMATS = ("table", "json", "jsonl")
KEEP_LOADED = 64           # cases kept from the reading pass (more are read again when assessed)
MARKDOWN_LIMIT = 65_000


def _help() -> str:
    return exit_codes_help("a flag at or above --fail-on that is neither waived nor in the baseline; "
                                      "the last line on stderr names them (\"policycheck: 3 flags at or above "
                                      "high: rule@case, ...\")")


@click.command(epilog=_help())
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(ASSESS_FORMATS), default=None,
              help="Output format (default: the configuration's, else table). markdown is a pull-request "
                   "comment; sarif is for code scanning; junit for CI test reports; html a standalone report; "
                   "jsonl one JSON object per case line; github workflow-command annotations.")
@click.option("-o", "--output", "outputs", multiple=True, metavar="[FORMAT:]FILE",
              help="FILE: write the --format output to FILE instead of stdout. FORMAT:FILE: also write FORMAT "
                   "to FILE (repeatable; FORMAT:- is stdout), e.g. -o sarif:out.sarif -o markdown:summary.md.")
@click.option("--fail-on", type=click.Choice((*SEVERITIES, "none"), case_sensitive=False), default=None,
              help="Exit 1 when any flag at or above this severity is not waived and not in the baseline; "
                   "'none' turns off a configured fail_on.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when flags reach --fail-on (bad input still exits 2).")
@click.option("--fail-fast", is_flag=True,
              help="Stop at the first case file that cannot be read or validated (exit 2, no output written); "
                   "by default every good file is assessed, every bad one reported, and the run exits 2.")
@click.option("-q", "--quiet", is_flag=True,
              help="Table: only the flags that fail --fail-on (file:line: severity rule (case): message) and the "
                   "summary; github: only their annotations. No progress bar.")
@click.option("--view", type=click.Choice(["full", "summary"]), default="full", show_default=True,
              help="Table: 'summary' prints one line per case, worst first.")
@click.option("--min-severity", type=click.Choice(SEVERITIES, case_sensitive=False), default=None,
              help="Show only flags at or above this severity, in every output. --fail-on still counts every flag.")
@click.option("--markdown-limit", type=click.IntRange(min=0), default=None, metavar="CHARS",
              help=f"Keep Markdown under CHARS characters by shortening it (default {MARKDOWN_LIMIT}, what a "
                   "GitHub comment or job summary takes; 0: no limit).")
@click.option("--no-color", is_flag=True, help="No colour, even on a terminal (NO_COLOR=1 does the same).")
@click.option("--rule", "select_rules", multiple=True, metavar="ID",
              help="Run only this rule (repeatable; globs such as 'output-*').")
@click.option("--skip-rule", "skip_rules", multiple=True, metavar="ID", help="Do not run this rule (repeatable; globs).")
@click.option("--family", "families", multiple=True, metavar="NAME",
              help="Run only the rules of this family (repeatable), e.g. licence-terms.")
@click.option("--condition", "conditions", multiple=True, metavar="C",
              help="Run only rules tagged with this condition (repeatable; C1-C4, OTC; any case).")
@click.option("--exclude", multiple=True, metavar="GLOB",
              help="Leave out case files matching GLOB (repeatable): a name without / matches any file or folder "
                   "name ('*.draft.yaml', 'drafts'); with /, the path ('cases/old/*').")
@click.option("--waivers", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="YAML file of accepted flags (rule, case, reason, approver, expires).")
@click.option("--baseline", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Flags recorded in FILE (from --write-baseline, or an assessment JSON) do not count toward --fail-on.")
@click.option("--write-baseline", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Also write the fingerprints of the current flags (except waived ones) to FILE.")
@click.option("--as-of", "as_of", default=None, metavar="DATE|today",
              help="Assess the terms in force on DATE (YYYY-MM-DD, or YYYY-MM / YYYY) instead of each case's own "
                   "as_of; 'today' is today's date (UTC). Flags on terms that ended before it are reported as "
                   "history and never counted; events dated after it are listed, not assessed.")
@click.option("--explain", is_flag=True,
              help="Also show why: per flag the patterns matched, each fact field (file:line, value, status), the "
                   "operative term and the mitigations applied or pending; per condition the rules checked; per "
                   "rule not assessed the case-file paths to fill in. With --format table or json only (and jsonl; "
                   "json adds an \"explain\" key to each case); other formats refuse it (exit 2).")
@click.option("--today", hidden=True, envvar="POLICYCHECK_TODAY", default=None,
              help="The date waivers are checked against, YYYY-MM-DD (for reproducible runs).")
@config_options
@rules_option
def assess(paths: tuple[str, ...], fmt: str | None, outputs: tuple[str, ...], fail_on: str | None, exit_zero: bool,
           fail_fast: bool, quiet: bool, view: str, min_severity: str | None, markdown_limit: int | None,
           no_color: bool, select_rules: tuple[str, ...], skip_rules: tuple[str, ...], families: tuple[str, ...],
           conditions: tuple[str, ...], exclude: tuple[str, ...], waivers: str | None, baseline: str | None,
           write_baseline: str | None, as_of: str | None, explain: bool, today: str | None,
           config_file: str | None, no_config: bool, rules_dirs: tuple[str, ...], bundled: bool | None) -> None:
    """Assess case files (or folders of them; - reads one case from stdin) and print the
    flagged assessment.

    Settings not given on the command line come from .policycheck.yaml or [tool.policycheck]
    in pyproject.toml, found by walking up from the working directory.

    \b
    Example:
        policycheck assess cases/
        policycheck assess cases/licences/llama-2.yaml --format json --fail-on high
        policycheck assess cases/ -o sarif:policycheck.sarif -o markdown:summary.md --fail-on high -q
        policycheck assess cases/ --format github --min-severity medium
        policycheck assess cases/ --format jsonl -o assessment.jsonl
        policycheck assess cases/ --write-baseline baseline.json
        policycheck assess cases/ --baseline baseline.json --fail-on medium
        policycheck assess cases/ --rule 'output-*' --skip-rule gated-weights --exclude drafts
        policycheck assess cases/deals/microsoft-openai.yaml --as-of 2023-06-30 --explain
        cat my-case.yaml | policycheck assess -
    """
    from policycheck.io.config import merge

    with interrupts():
        opts = merge(config(config_file, no_config, reason=True), rules=rules_dirs, bundled=bundled,
                     fail_on=fail_on.lower() if fail_on else None, waivers=waivers, baseline=baseline, fmt=fmt,
                     select_rules=select_rules, skip_rules=skip_rules, families=families, conditions=conditions,
                     exclude=exclude, min_severity=min_severity.lower() if min_severity else None,
                     markdown_limit=markdown_limit)
        day = parse_today(today)
        if explain and opts.format not in EXPLAIN_FORMATS:
            raise Fail([f"--explain works with --format table, json or jsonl, not {opts.format}"])
        date = _as_of(as_of, day.isoformat())
        from policycheck.cli.outputs import parse_outputs

        specs = parse_outputs(outputs, opts.format, ASSESS_FORMATS)
        run = Run(opts=opts, day=day, date=date, specs=specs, explain=explain, quiet=quiet, view=view,
                  no_color=no_color, exit_zero=exit_zero, fail_fast=fail_fast, write_baseline=write_baseline)
        from policycheck import limits

        with limits.using(opts.limits):
            code = run.go(paths)
        if code:
            click.get_current_context().exit(code)


def _as_of(value: str | None, today: str) -> str | None:
    """The --as-of date: None (each case's own as_of), today's date for "today", else DATE
    checked as a case-file date is (ASCII YYYY-MM-DD, YYYY-MM or YYYY)."""
    from policycheck.model.case import check_date

    if value is None:
        return None
    if value == "today":
        return today
    try:
        return check_date(value)
    except ValueError as exc:
        why = str(exc) if str(exc).split(" ", 1)[0] != "expected" else "expected YYYY-MM-DD, YYYY-MM, YYYY or 'today'"
        raise Fail([f"--as-of {value!r}: {why}"]) from None


def file_error(file: str, problems: Sequence[Problem]) -> FileError:
    """A file not assessed, from the problems its loading raised."""
    from policycheck.model.assessment import FileError, FileProblem

    return FileError(file=file, problems=[
        FileProblem(line=p.location.line, column=p.location.column, path=p.location.path,
                    message=p.message + (f" (did you mean '{p.suggestion}'?)" if p.suggestion else ""),
                    text=p.render())
        for p in problems])


@dataclass
class Good:
    """A case file that loaded: its id, file and (for the first KEEP_LOADED) the loaded case."""

    id: str
    file: str
    loaded: LoadedCase | None


@dataclass
class Failing:
    """The flags that fail the run so far: how many, and the first few as rule@case."""

    count: int = 0
    names: list[str] = field(default_factory=list)

    def add(self, rule: str, case: str) -> None:
        self.count += 1
        if len(self.names) < 5:
            self.names.append(f"{rule}@{case}")


@dataclass
class Run:
    """One ``assess`` run: read, assess, write every output, then say why it exits."""

    opts: Options
    day: dt.date
    date: str | None
    specs: list[OutputSpec]
    explain: bool
    quiet: bool
    view: str
    no_color: bool
    exit_zero: bool
    fail_fast: bool
    write_baseline: str | None

    def go(self, paths: Sequence[str]) -> int:
        from policycheck.load.select import select_rules
        from policycheck.load.walk import case_paths
        from policycheck.review.baseline import baseline_rules, load_baseline
        from policycheck.review.waivers import load_waivers

        opts = self.opts
        full = load_pack(opts.rules, opts.bundled, reason=True)
        pack = guard_run(lambda: select_rules(full, rules=opts.select_rules, skip=opts.skip_rules,
                                              families=opts.families, conditions=opts.conditions))
        waivers_file, baseline_file = opts.waivers, opts.baseline
        waiver_list = guard_run(lambda: load_waivers(waivers_file, [r.id for r in full.rules])) if waivers_file else None
        accepted = guard_run(lambda: load_baseline(baseline_file)) if baseline_file else None
        counted_baseline = accepted
        if accepted is not None and pack is not full:   # entries of rules not run are not "no longer matching"
            ids = {r.id for r in pack.rules}
            by_rule = guard_run(lambda: baseline_rules(baseline_file)) if baseline_file else {}
            counted_baseline = frozenset(fp for fp in accepted if by_rule.get(fp, "") in ids)
        walk = case_paths(paths, opts.exclude)
        if not walk.files:
            why = f" ({walk.excluded} excluded by --exclude)" if walk.excluded else ""
            line = f"{', '.join(paths)}: no case files (.yaml, .yml, .json) found{why}"
            raise Fail([line], "nothing assessed: no case files")
        self.pack, self.full = pack, full
        sinks = self._open_sinks()
        try:
            code = self._run(walk.files, sinks, waiver_list, accepted, counted_baseline)
        except BaseException:
            for sink in sinks.values():
                sink.discard()
            raise
        return code

    # -- outputs -----------------------------------------------------------------------------------

    def _open_sinks(self) -> dict[str, Any]:
        from policycheck.cli.outputs import STDOUT, AtomicFile

        sinks: dict[str, Any] = {}
        targets = [s.target for s in self.specs if s.target != STDOUT]
        if self.write_baseline:
            targets.append(self.write_baseline)
        try:
            for target in targets:
                try:
                    sinks[target] = AtomicFile(target)
                except OSError as exc:
                    raise Fail([f"{target}: cannot write: {exc.strerror or exc}"],
                               f"nothing assessed: cannot write {target}") from None
        except BaseException:
            for sink in sinks.values():
                sink.discard()
            raise
        return sinks

    def _writer(self, fmt: str, stream: Any, on_stdout: bool) -> Writer:
        from policycheck.render.terminal import DEFAULT_WIDTH, PLAIN, Style, colour_wanted, terminal_width

        opts = self.opts
        if fmt == "json":
            from policycheck.render.jsonout import JsonWriter

            return JsonWriter(self.explain)
        if fmt == "jsonl":
            from policycheck.render.jsonout import JsonlWriter

            return JsonlWriter(self.explain)
        if fmt == "markdown":
            from policycheck.render.markdown import MarkdownWriter

            limit = opts.markdown_limit if opts.markdown_limit is not None else MARKDOWN_LIMIT
            return MarkdownWriter(limit or None)
        if fmt == "sarif":
            from policycheck.render.sarif import SarifWriter

            return SarifWriter()
        if fmt == "junit":
            from policycheck.render.junit import JunitWriter

            return JunitWriter()
        if fmt == "html":
            from policycheck.render.html import HtmlWriter

            return HtmlWriter()
        if fmt == "github":
            from policycheck.render.github import GithubWriter

            return GithubWriter(quiet=self.quiet, fail_on=opts.fail_on)
        from policycheck.render.table import TableWriter

        colour = on_stdout and colour_wanted(sys.stdout, no_color=self.no_color)
        width = terminal_width(sys.stdout) if on_stdout else DEFAULT_WIDTH
        return TableWriter(explain=self.explain, view=self.view, quiet=self.quiet, fail_on=opts.fail_on,
                           width=width, style=Style(True) if colour else PLAIN)

    # -- the run -----------------------------------------------------------------------------------

    def _read(self, files: list[Any], progress: Any) -> tuple[list[Good], list[FileError]]:
        """Read and validate every file (reporting each bad one now); the good ones sorted by case id."""
        from policycheck.errors import CaseLoadError, Problem
        from policycheck.load.cases import load_case, load_case_text
        from policycheck.load.walk import STDIN

        good: list[Good] = []
        errors: list[FileError] = []
        first: dict[str, str] = {}        # case id -> where the first file that uses it says so
        progress.stage("reading", len(files))
        for i, file in enumerate(files):
            progress.update(i, str(file))
            try:
                if file == STDIN:
                    loaded = load_case_text(_stdin_text(), "<stdin>")
                else:
                    loaded = load_case(file)
            except CaseLoadError as exc:
                shown = next((p.location.file for p in exc.problems if p.location.file), None)
                self._bad(errors, shown or ("<stdin>" if file == STDIN else str(file)), list(exc.problems), progress)
                continue
            cid = loaded.case.id
            here = loaded.document.location(("id",))
            if cid in first:
                problem = Problem(f"duplicate case id '{cid}' (also the id of {first[cid]}); every case file needs "
                                  "its own id", here)
                self._bad(errors, loaded.file, [problem], progress)
                continue
            first[cid] = here.prefix()
            good.append(Good(cid, loaded.file, loaded if len(good) < KEEP_LOADED or file == STDIN else None))
        good.sort(key=lambda g: (g.id, g.file))
        return good, errors

    def _bad(self, errors: list[FileError], file: str, problems: list[Problem], progress: Any) -> None:
        progress.clear()
        for p in problems:
            click.echo(f"error: {p.render()}", err=True)
        errors.append(file_error(file, problems))
        if self.fail_fast:
            raise Fail([], f"stopped at the first file not assessed (--fail-fast): {file}")

    def _run(self, files: list[Any], sinks: dict[str, Any], waiver_list: Any, accepted: Any,
             counted_baseline: Any) -> int:
        from policycheck import __version__
        from policycheck.cli.outputs import STDOUT, Console, Progress
        from policycheck.errors import PolicycheckError
        from policycheck import evaluate
        from policycheck.evaluate import Tally
        from policycheck.load.cases import load_case
        from policycheck.model.assessment import PackInfo
        from policycheck.model.rule import SEVERITY_ORDER
        from policycheck.render.stream import Head, Tail
        from policycheck.review.apply import Reviewer
        from policycheck.review.baseline import baseline_entries, baseline_text

        opts, pack = self.opts, self.pack
        stderr = sys.stderr
        progress = Progress(enabled=not self.quiet and _isatty(stderr), stream=stderr)
        good, errors = self._read(files, progress)
        stdout = Console(sys.stdout, progress)
        writers: list[Writer] = []
        for spec in self.specs:
            on_stdout = spec.target == STDOUT
            writer = self._writer(spec.fmt, stdout, on_stdout)
            writer.begin(stdout if on_stdout else sinks[spec.target].handle,  # type: ignore[arg-type]
                         Head("policycheck", __version__, PackInfo(digest=pack.digest, rules=len(pack.rules)), pack,
                              baseline=accepted is not None))
            writers.append(writer)
        for error in errors:
            for w in writers:
                w.problem(error)
        reviewer = Reviewer(today=self.day, waivers=waiver_list, waivers_file=opts.waivers, baseline=accepted,
                            baseline_file=opts.baseline, rules={r.id for r in pack.rules})
        tally, failing = Tally(), Failing()
        entries: list[dict[str, object]] = []
        limit = SEVERITY_ORDER[opts.fail_on] if opts.fail_on else None
        progress.stage("assessing", len(good))
        for i, g in enumerate(good):
            progress.update(i, g.id)
            try:
                loaded = g.loaded or load_case(g.file)
                if g.loaded is None and loaded.case.id != g.id:   # the file changed since it was read
                    raise PolicycheckError(f"{g.file}: the case id changed while the run read it; run again")
                case = next(iter(evaluate.assess_each([loaded], pack, self.date)))
            except PolicycheckError as exc:
                self._bad(errors, g.file, list(exc.problems), progress)
                for w in writers:
                    w.problem(errors[-1])
                continue
            g.loaded = None
            if reviewer.active:
                case = reviewer.case(case)
            tally.add(case)
            if limit is not None:
                for f in case.flags:
                    if f.counts and SEVERITY_ORDER[f.severity] >= limit:
                        failing.add(f.rule, case.case)
            if self.write_baseline:
                entries += baseline_entries(case)
            shown = _at_least(case, opts.min_severity)
            for w in writers:
                w.case(shown)
        progress.update(len(good))
        progress.clear()
        review, warnings = (reviewer.finish(counted_baseline) if reviewer.active else (None, []))
        tail = Tail(tally.text(len(errors)), review, tuple(errors))
        for w in writers:
            w.end(tail)
        if self.write_baseline:
            sinks[self.write_baseline].handle.write(baseline_text(entries, pack.digest))
        # The baseline first, as before: a report never claims a baseline that was not written.
        order = ([self.write_baseline] if self.write_baseline else []) + [t for t in sinks if t != self.write_baseline]
        for target in order:
            try:
                sinks[target].commit()
            except OSError as exc:
                raise Fail([f"{target}: cannot write: {exc.strerror or exc}"],
                           f"cannot write {target}") from None
        warn([p.render() for p in warnings])
        return self._reason(errors, failing)

    def _reason(self, errors: list[FileError], failing: Failing) -> int:
        fail_on = self.opts.fail_on
        flags = ""
        if failing.count and not self.exit_zero:
            flags = (f"{failing.count} flag{'s' if failing.count != 1 else ''} at or above {fail_on}: "
                     + listing(failing.names, failing.count))
        if errors:
            n = len(errors)
            line = f"{n} file{'s' if n != 1 else ''} not assessed: " + listing([e.file for e in errors])
            if flags:
                line += f" (and {flags.split(':', 1)[0]})"
            click.echo(f"policycheck: {line}", err=True)
            return EXIT_INPUT
        if flags:
            click.echo(f"policycheck: {flags}", err=True)
            return EXIT_FLAGGED
        return 0


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _stdin_text() -> str:
    from policycheck import limits
    from policycheck.errors import CaseLoadError, Location, Problem

    most = limits.current().file_bytes
    raw = sys.stdin.buffer.read(most + 1)
    if len(raw) > most:
        raise CaseLoadError([Problem(f"file is larger than {most} bytes", Location("<stdin>"))])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CaseLoadError([Problem(f"file is not valid UTF-8 (byte {exc.start})", Location("<stdin>"))]) from None


def _at_least(case: CaseAssessment, level: str | None) -> CaseAssessment:
    """The case with only the flags (and history flags) at or above ``level`` (--min-severity)."""
    if level is None:
        return case
    from policycheck.model.rule import SEVERITY_ORDER

    floor = SEVERITY_ORDER[level]
    return case.model_copy(update={"flags": [f for f in case.flags if SEVERITY_ORDER[f.severity] >= floor],
                                   "history": [f for f in case.history if SEVERITY_ORDER[f.severity] >= floor]})


COMMANDS: list[click.Command] = [assess]
