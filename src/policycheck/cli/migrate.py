"""`policycheck migrate`: rewrite case format v1 files as v2, in place, comments kept."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from policycheck.cli.common import EXIT_FLAGGED, Fail, guard

if TYPE_CHECKING:
    from policycheck.load.migrate import MigrateResult


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(), metavar="FILE...")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when a file would change.")
@click.option("--diff", "show_diff", is_flag=True, help="Write nothing; print a unified diff of the changes.")
def migrate(paths: tuple[str, ...], check: bool, show_diff: bool) -> None:
    """Rewrite case files from format v1 to v2, in place, keeping comments and layout.

    Sets schema_version to 2 and writes the v1 defaults v2 requires: a licence's
    `kind: model_licence`, an amount's or price's `currency: USD`, a data-access change's
    `stage: effective`. Three v1 defaults are not written, because v2 reads a left-out
    field as unstated: one line on stderr names each place (file:line) that relied on one
    (exempts_licensor_family read as false; a party's roles, a licence's models read as
    empty), to be stated where a source says so.

    FILE may be a case file, a rule fixture file (its inline `case:` mappings are
    migrated), a folder (the case and fixture files under it; other YAML is skipped), or
    `-` to read stdin and write stdout. A file already at v2 is left alone. When any file
    cannot be read, nothing is written. Exit 0 when done, 1 with --check when a file
    would change, 2 on bad input.

    \b
    Example:
        policycheck migrate cases/ rules/
        policycheck migrate --check cases/
        policycheck migrate --diff my-case.yaml
        policycheck migrate - < old.yaml > new.yaml
    """
    from policycheck.errors import PolicycheckError
    from policycheck.load.cases import iter_case_files
    from policycheck.load.migrate import NotACaseFile, migrate_file, migrate_text

    results: list[tuple[str, MigrateResult]] = []
    errors: list[str] = []
    for raw in paths:
        folder = raw != "-" and Path(raw).is_dir()
        for name in [str(f) for f in iter_case_files([raw])] if folder else [raw]:
            try:
                if name == "-":
                    results.append(("<stdin>", migrate_text(sys.stdin.read(), "<stdin>")))
                else:
                    results.append((name, migrate_file(name)))
            except NotACaseFile as exc:
                if not folder:  # a rule file or other YAML under a folder is not ours to migrate
                    errors += exc.lines()
            except PolicycheckError as exc:
                errors += exc.lines()
    if errors:
        raise Fail(errors)  # nothing has been written
    if not results:
        raise Fail([f"{', '.join(paths)}: no case or fixture files found"])

    would_change = False
    for name, result in results:
        for note in result.notes:  # lines of the file as it is after this command
            click.echo(note.render(before=check or show_diff), err=True)
        would_change |= result.changed
        if show_diff:
            click.echo(result.diff(name), nl=False)
        if name == "<stdin>" and not (check or show_diff):
            click.echo(result.text, nl=False)
        elif result.status == "already v2":
            click.echo(f"{name}: already case format v2; left alone", err=True)
        elif not result.changed:
            click.echo(f"{name}: nothing to change", err=True)
        elif check or show_diff:
            click.echo(f"{name}: would be migrated to case format v2", err=True)
        else:
            guard(lambda: _write(name, result))
            click.echo(f"{name}: migrated to case format v2", err=True)
    if check and would_change:
        click.get_current_context().exit(EXIT_FLAGGED)


def _write(name: str, result: MigrateResult) -> None:
    from policycheck.load.migrate import write_file

    write_file(name, result.text)


COMMANDS: list[click.Command] = [migrate]
