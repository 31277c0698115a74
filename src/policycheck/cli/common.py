"""What every command shares: exit codes, the one place errors become messages, output
writing, and the options several commands take."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    import datetime as dt

    from policycheck.io.config import Config
    from policycheck.load.cases import LoadedCase
    from policycheck.load.rules import RulePack

EXIT_OK, EXIT_FLAGGED, EXIT_INPUT = 0, 1, 2
SEVERITIES = ("info", "low", "medium", "high")
T = TypeVar("T")


class Fail(click.ClickException):
    exit_code = EXIT_INPUT

    def __init__(self, lines: Sequence[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = list(lines)

    def show(self, file: Any = None) -> None:
        for line in self.lines:
            click.echo(f"error: {line}", err=True)


def guard(fn: Callable[[], T]) -> T:
    from policycheck.errors import PolicycheckError

    try:
        return fn()
    except PolicycheckError as exc:
        raise Fail(exc.lines()) from None


def write(text: str, output: str | None) -> None:
    """Write all output at once; a file is replaced atomically, never half-written."""
    if output is None or output == "-":
        click.echo(text, nl=False)
        return
    target = Path(output)
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent if str(target.parent) else ".", prefix=".policycheck-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise Fail([f"{output}: cannot write: {exc.strerror or exc}"]) from None


def rules_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--rules", "rules_dirs", multiple=True, type=click.Path(), metavar="DIR",
                      help="Extra rule folder (repeatable); added to the bundled pack.")(fn)
    fn = click.option("--no-bundled", is_flag=True, help="Use only the --rules folders, not the bundled pack.")(fn)
    return fn


def load_pack(rules_dirs: Sequence[str], no_bundled: bool) -> RulePack:
    from policycheck.load.rules import load_rules

    if no_bundled and not rules_dirs:
        raise click.UsageError("--no-bundled needs at least one --rules DIR")
    return guard(lambda: load_rules(rules_dirs, bundled=not no_bundled))


def load_cases(paths: Sequence[str]) -> list[LoadedCase]:
    from policycheck.load.cases import iter_case_files, load_cases

    files = list(iter_case_files(paths))
    if not files:
        raise Fail([f"{', '.join(paths)}: no case files (.yaml, .yml, .json) found"])
    return list(guard(lambda: load_cases(files)))


def warn(lines: Sequence[str]) -> None:
    for line in lines:
        click.echo(f"warning: {line}", err=True)


def config(config_file: str | None, no_config: bool) -> Config:
    from policycheck.io.config import Config, discover, load_config

    if no_config:
        return Config()
    return guard(lambda: load_config(config_file) if config_file else discover())


def today(value: str | None) -> dt.date:
    from policycheck.review.apply import today_from

    try:
        return today_from(value)
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected a date as YYYY-MM-DD", param_hint="'--today'") from None


def config_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--no-config", is_flag=True, help="Ignore .policycheck.yaml / [tool.policycheck].")(fn)
    fn = click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None, metavar="FILE",
                      help="Read this configuration file instead of searching up from the working directory.")(fn)
    return fn
