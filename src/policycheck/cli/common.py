"""What every command shares: exit codes, the one place errors become messages, output
writing, and the options several commands take."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

from policycheck.render.terminal import escape

if TYPE_CHECKING:
    import datetime as dt

    from policycheck.io.config import Config
    from policycheck.load.cases import LoadedCase
    from policycheck.load.rules import RulePack

EXIT_OK, EXIT_FLAGGED, EXIT_INPUT = 0, 1, 2
EXIT_INTERRUPTED = 130          # Ctrl-C (128 + SIGINT); SIGTERM gives 143, SIGHUP 129
SEVERITIES = ("info", "low", "medium", "high")
REASON_LIST = 5                 # names a reason line lists before "+N more"
T = TypeVar("T")

def exit_codes_help(one: str) -> str:
    """The "Exit codes:" epilog of a command's --help (``one``: what exit 1 means)."""
    import textwrap

    def item(code: str, text: str) -> str:
        return textwrap.fill(text, 92, initial_indent=f"  {code:<5}", subsequent_indent=" " * 7)

    return "\b\nExit codes:\n" + "\n".join([
        item("0", "ok"), item("1", one),
        item("2", 'bad input or usage; the last line on stderr says what ("policycheck: ...")'),
        item("130", "interrupted (Ctrl-C); 143 on SIGTERM; no output file is left half-written")])


class Fail(click.ClickException):
    """Exit 2 with one ``error:`` line per problem; with ``reason``, a last line
    ``policycheck: <reason>`` says what stopped the run."""

    exit_code = EXIT_INPUT

    def __init__(self, lines: Sequence[str], reason: str | None = None) -> None:
        super().__init__("\n".join(lines))
        self.lines = list(lines)
        self.reason = reason

    def show(self, file: Any = None) -> None:
        for line in self.lines:
            click.echo(f"error: {line}", err=True)
        if self.reason:
            click.echo(f"policycheck: {self.reason}", err=True)


def listing(names: Sequence[str], total: int | None = None) -> str:
    """"a, b, c" with at most REASON_LIST names, then "+N more" (``total``: how many there are)."""
    n = len(names) if total is None else total
    shown = [escape(str(name), one_line=True) for name in names[:REASON_LIST]]  # file names are untrusted
    return ", ".join(shown) + (f", +{n - len(shown)} more" if n > len(shown) else "")


def nothing_assessed(lines: Sequence[str], problems: Sequence[Any] = ()) -> str:
    """The reason line of a run stopped before assessing anything: the files at fault, else the
    first error."""
    files = list(dict.fromkeys(p.location.file for p in problems if getattr(p.location, "file", None)))
    files = [f for f in files if not str(f).startswith("--")]
    n = len(lines)
    if files:
        return f"nothing assessed: {n} problem{'s' if n != 1 else ''} in {listing(files)}"
    return "nothing assessed: " + (lines[0] if lines else "bad input")


def guard_run(fn: Callable[[], T]) -> T:
    """``guard`` for commands with reason lines: a PolicycheckError stops the run with exit 2,
    its error lines and a ``policycheck: nothing assessed: ...`` line."""
    from policycheck.errors import PolicycheckError

    try:
        return fn()
    except PolicycheckError as exc:
        raise Fail(exc.lines(), nothing_assessed(exc.lines(), exc.problems)) from None


@contextmanager
def interrupts() -> Iterator[None]:
    """Ctrl-C exits 130 (not click's "Aborted!" and 1), SIGTERM 143 and SIGHUP 129, each with
    one ``policycheck: interrupted`` line; output files are cleaned up by the code unwinding."""
    from policycheck.cli.outputs import Terminated, signals_unwind

    try:
        with signals_unwind():
            yield
    except KeyboardInterrupt:
        click.echo("\npolicycheck: interrupted; no output file was written", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Terminated as exc:
        click.echo(f"policycheck: terminated by signal {exc.signum}; no output file was written", err=True)
        sys.exit(128 + exc.signum)


def guard(fn: Callable[[], T]) -> T:
    from policycheck.errors import PolicycheckError

    try:
        return fn()
    except PolicycheckError as exc:
        raise Fail(exc.lines()) from None


def write(text: str, output: str | None) -> None:
    """Write all output at once; a file is replaced atomically, never half-written, with the
    umask's permissions (cli/outputs.py)."""
    from policycheck.cli.outputs import AtomicFile

    if output is None or output == "-":
        click.echo(text, nl=False)
        return
    sink = None
    try:
        sink = AtomicFile(output)
        sink.handle.write(text)
        sink.commit()
    except OSError as exc:
        raise Fail([f"{output}: cannot write: {exc.strerror or exc}"]) from None
    finally:
        if sink is not None:
            sink.discard()


def rules_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--rules DIR`` (repeatable) and ``--bundled/--no-bundled``, the same on every command that
    takes rules; the callback gets ``rules_dirs`` and ``bundled`` (None: not given, so the
    configuration's ``bundled``, else True). ``--with-bundled`` is a hidden alias of
    ``--bundled`` (the spelling `test` and `lint` used before)."""
    fn = click.option("--with-bundled", "with_bundled", is_flag=True, hidden=True,
                      help="Old spelling of --bundled.")(fn)
    fn = click.option("--bundled/--no-bundled", "bundled", default=None,
                      help="Use the bundled rule pack as well as the --rules folders [default: --bundled, or the "
                           "configuration's 'bundled'].")(fn)
    fn = click.option("--rules", "rules_dirs", multiple=True, type=click.Path(), metavar="DIR",
                      help="Rule folder to add to the pack (repeatable); with --no-bundled, the pack is these alone.")(fn)
    return _fold_with_bundled(fn)


def _fold_with_bundled(fn: Callable[..., Any]) -> Callable[..., Any]:
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, with_bundled: bool = False, **kwargs: Any) -> Any:
        if with_bundled:
            if kwargs.get("bundled") is False:
                raise click.UsageError("--with-bundled and --no-bundled contradict each other")
            kwargs["bundled"] = True
        return fn(*args, **kwargs)

    return wrapper


def load_pack(rules_dirs: Sequence[str], bundled: bool, reason: bool = False) -> RulePack:
    from policycheck.load.rules import load_rules

    if not bundled and not rules_dirs:
        raise click.UsageError("--no-bundled needs at least one --rules DIR")
    return (guard_run if reason else guard)(lambda: load_rules(rules_dirs, bundled=bundled))


def emit(render: Callable[[str], str], outputs: Sequence[str], fmt: str, formats: Sequence[str]) -> None:
    """Write a command's report: ``-o [FORMAT:]FILE`` as for assess (cli/outputs.py
    ``parse_outputs``); every file is written atomically and only once all have rendered."""
    from policycheck.cli.outputs import STDOUT, AtomicFile, parse_outputs

    specs = parse_outputs(outputs, fmt, formats)
    texts = [(spec, render(spec.fmt)) for spec in specs]
    sinks: list[AtomicFile] = []
    try:
        for spec, text in texts:
            if spec.target == STDOUT:
                continue
            try:
                sink = AtomicFile(spec.target)
            except OSError as exc:
                raise Fail([f"{spec.target}: cannot write: {exc.strerror or exc}"]) from None
            sinks.append(sink)
            sink.handle.write(text)
        for spec, text in texts:
            if spec.target == STDOUT:
                click.echo(text, nl=False)
        for sink in sinks:
            sink.commit()
    finally:
        for sink in sinks:
            sink.discard()


def output_option(formats: Sequence[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``-o/--output [FORMAT:]FILE``, as on assess and diff."""
    return click.option("-o", "--output", "outputs", multiple=True, metavar="[FORMAT:]FILE",
                        help="FILE: write the --format output to FILE instead of stdout (atomically). FORMAT:FILE: "
                             f"also write FORMAT ({', '.join(formats)}) to FILE (repeatable; FORMAT:- is stdout).")


def load_cases(paths: Sequence[str]) -> list[LoadedCase]:
    from policycheck.load.cases import iter_case_files, load_cases

    files = list(iter_case_files(paths))
    if not files:
        raise Fail([f"{', '.join(paths)}: no case files (.yaml, .yml, .json) found"])
    return list(guard(lambda: load_cases(files)))


def warn(lines: Sequence[str]) -> None:
    for line in lines:
        click.echo(f"warning: {line}", err=True)


def config(config_file: str | None, no_config: bool, reason: bool = False) -> Config:
    from policycheck.io.config import Config, discover, load_config

    if no_config:
        return Config()
    return (guard_run if reason else guard)(lambda: load_config(config_file) if config_file else discover())


def today(value: str | None) -> dt.date:
    from policycheck.review.apply import today_from

    try:
        return today_from(value)
    except ValueError:
        raise click.BadParameter(f"invalid value {value!r}: expected a date as YYYY-MM-DD", param_hint="'--today'") from None


def config_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--no-config", is_flag=True, help="Ignore .policycheck.yaml / [tool.policycheck].")(fn)
    fn = click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None, metavar="FILE",
                      help="Read this configuration file instead of searching up from the working directory.")(fn)
    return fn
