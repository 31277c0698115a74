"""Usage errors in the shape of every other error: one located line, then the reason line.

    error: policycheck assess --fail-onn: no such option (did you mean '--fail-on'?)
    policycheck: usage error; see 'policycheck assess --help'

A file error names ``FILE:LINE:COL: FIELD``; a usage error names the command and the option
or argument at fault (``policycheck assess --fail-on``, ``policycheck diff NEW``), then says
what is wrong in the project's words, with a suggestion where click has one. Exit code 2.
The group (``Group``) reshapes every click usage error raised while parsing or running any
command; ``--help`` and the help printed for a bare ``policycheck`` are untouched.
"""

from __future__ import annotations

import re
from typing import IO, Any

import click

from policycheck.errors import suggest
from policycheck.render.terminal import escape

EXIT_USAGE = 2
# Newer click only (8.2: a bare group's help is an error; 8.4: an unknown command has its own class).
_HELP_ERRORS: tuple[type[Exception], ...] = tuple(
    c for c in (getattr(click.exceptions, "NoArgsIsHelpError", None),) if c is not None)
_NO_SUCH_COMMAND: tuple[type[Exception], ...] = tuple(
    c for c in (getattr(click.exceptions, "NoSuchCommand", None),) if c is not None)
_VALUE = r"(?P<value>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
_CHOICE = re.compile(rf"^{_VALUE} is not (?:one of )?(?P<choices>.*?)\.?$", re.S)
_NUMBER = re.compile(rf"^{_VALUE} is not a valid (?P<kind>integer|float|boolean|UUID)(?: range)?\.?$")
_RANGE = re.compile(r"^(?P<value>\S+) is not in the range (?P<range>\S+?)\.?$")
_BOUND = {">=": "at least", ">": "greater than", "<=": "at most", "<": "less than"}
_EXTRA = re.compile(r"^Got unexpected extra arguments? \((?P<args>.*)\)$", re.S)
_PATH = re.compile(rf"^(?P<what>File|Directory|Path) {_VALUE} (?P<rest>.*?)\.?$")
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")
_KINDS = {"integer": "a whole number", "float": "a number", "boolean": "true or false", "UUID": "a UUID"}
_PATH_WORDS = {"File": "file", "Directory": "folder", "Path": "path"}


class Usage(click.UsageError):
    """A usage error said as one ``error:`` line and a ``policycheck:`` reason line."""

    exit_code = EXIT_USAGE

    def __init__(self, command: str, subject: str | None, message: str) -> None:
        super().__init__(message)
        self.command, self.subject = command, subject

    def line(self) -> str:
        where = self.command + (f" {self.subject}" if self.subject else "")
        return escape(f"error: {where}: {self.message}", one_line=True)

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(self.line(), err=True)
        click.echo(escape(f"policycheck: usage error; see '{self.command} --help'", one_line=True), err=True)


class Group(click.Group):
    """The ``policycheck`` group: usage errors of the group and of every command come out as
    ``Usage`` (see the module docstring)."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            if isinstance(exc, _HELP_ERRORS):
                raise
            raise reshape(exc, info_name or self.name or "policycheck") from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            if isinstance(exc, (Usage, *_HELP_ERRORS)):
                raise
            fallback = ctx.command_path + (f" {ctx.invoked_subcommand}" if ctx.invoked_subcommand else "")
            raise reshape(exc, fallback) from None


def reshape(exc: click.UsageError, fallback: str) -> Usage:
    """``exc`` as a ``Usage`` error; ``fallback``: the command path when click gave no context."""
    command = exc.ctx.command_path if exc.ctx is not None else fallback
    if isinstance(exc, click.NoSuchOption):
        return Usage(command, exc.option_name, "no such option" + _did_you_mean(exc.option_name, exc.possibilities))
    if isinstance(exc, _NO_SUCH_COMMAND):
        name = str(getattr(exc, "command_name", ""))
        return Usage(command, name, "no such command" + _did_you_mean(name, getattr(exc, "possibilities", None)))
    if isinstance(exc, click.BadOptionUsage):
        return Usage(command, exc.option_name, _option_usage(exc.message))
    if isinstance(exc, click.MissingParameter):
        kind = exc.param_type or (exc.param.param_type_name if exc.param is not None else "parameter")
        return Usage(command, _subject(exc), f"missing {kind}")
    if isinstance(exc, click.BadParameter):
        return Usage(command, _subject(exc), bad_value(exc.message))
    extra = _EXTRA.match(exc.message)
    if extra:
        return Usage(command, None, f"unexpected extra argument {extra.group('args')!r}")
    return Usage(command, None, _plain(exc.message))


def _did_you_mean(name: str, possibilities: list[str] | None) -> str:
    if not possibilities:
        return ""
    best = suggest(name, possibilities) or possibilities[0]
    return f" (did you mean '{best}'?)"


def _option_usage(message: str) -> str:
    m = re.search(r"requires (?:an argument|(\d+) arguments)", message)
    if m:
        return f"needs {m.group(1)} values" if m.group(1) else "needs a value"
    if "does not take a value" in message:
        return "takes no value"
    return _plain(message)


def _subject(exc: click.BadParameter) -> str | None:
    """The option or argument as a user writes it: ``--fail-on``, ``PATHS``."""
    if exc.param_hint is not None:
        hints = [exc.param_hint] if isinstance(exc.param_hint, str) else list(exc.param_hint)
        return "/".join(h.strip("'\"") for h in hints)
    param = exc.param
    if param is None:
        return None
    if isinstance(param, click.Option):
        longs = [o for o in param.opts if o.startswith("--")]
        return (longs or param.opts)[0]
    return param.human_readable_name.rstrip(".").strip("[]")


def bad_value(message: str) -> str:
    """click's "'x' is not one of 'a', 'b'." and the like, in the project's words."""
    m = _CHOICE.match(message)
    if m and "valid" not in m.group("choices"):
        choices = _QUOTED.findall(m.group("choices"))
        if choices:
            value = m.group("value")
            hint = suggest(value[1:-1], choices)
            return (f"invalid value {value}; expected one of: {', '.join(choices)}"
                    + (f" (did you mean '{hint}'?)" if hint else ""))
    m = _NUMBER.match(message)
    if m:
        return f"invalid value {m.group('value')}: expected {_KINDS[m.group('kind')]}"
    m = _RANGE.match(message)
    if m:
        return f"invalid value {m.group('value')}: must be {_range_words(m.group('range'))}"
    m = _PATH.match(message)
    if m:
        return f"{_PATH_WORDS[m.group('what')]} {m.group('value')} {m.group('rest')}"
    return _plain(message)


def _range_words(text: str) -> str:
    """click's ``x>=0`` / ``0<=x<=10`` in words ("at least 0", "from 0 to 10")."""
    m = re.match(r"^(?:(?P<lo>[-+.\w]+)(?P<lop><=?))?x(?:(?P<hop>[<>]=?)(?P<hi>[-+.\w]+))?$", text)
    if not m:
        return f"in the range {text}"
    if m.group("lo") and m.group("hi") and m.group("lop") == "<=" and m.group("hop") == "<=":
        return f"from {m.group('lo')} to {m.group('hi')}"
    parts = []
    if m.group("lo"):
        parts.append(f"{_BOUND['>=' if m.group('lop') == '<=' else '>']} {m.group('lo')}")
    if m.group("hi"):
        parts.append(f"{_BOUND[m.group('hop')]} {m.group('hi')}")
    return " and ".join(parts) or f"in the range {text}"


def _plain(message: str) -> str:
    """A message with click's capital and full stop dropped ("Got unexpected ..." -> "got unexpected ...")."""
    text = message.strip().rstrip(".")
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        text = text[0].lower() + text[1:]
    return text
