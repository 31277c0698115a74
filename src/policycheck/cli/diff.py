"""`policycheck diff` (review workflows)."""

from __future__ import annotations

import click

from policycheck.cli.common import EXIT_FLAGGED, Fail, config, guard, load_pack, write


@click.command(name="diff")
@click.argument("old", type=click.Path())
@click.argument("new", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "json"]), default="table", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write to FILE instead of stdout.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when the diff finds new concerns.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Read this configuration file instead of searching up from the working directory.")
@click.option("--no-config", is_flag=True, help="Ignore .policycheck.yaml / [tool.policycheck].")
@click.option("--rules", "rules_dirs", multiple=True, type=click.Path(), metavar="DIR",
              help="Extra rule folder (repeatable); added to the bundled pack.")
@click.option("--no-bundled", is_flag=True, help="Use only the --rules folders, not the bundled pack.")
def diff_cmd(old: str, new: str, fmt: str, output: str | None, exit_zero: bool, config_file: str | None,
             no_config: bool, rules_dirs: tuple[str, ...], no_bundled: bool) -> None:
    """Compare two versions of a case (case files, or assessment JSON from `assess --format json`):
    flags added and removed, severities and condition statuses changed, and for licences the
    terms in force, old against new. Exits 1 when there is a new concern (an added or raised flag
    of medium or high severity, or a condition that moved to concern).

    \b
    Example:
        policycheck diff cases/licences/llama.yaml cases/licences/llama-2.yaml
        git show main:cases/acme.yaml > /tmp/acme-old.yaml
        policycheck diff /tmp/acme-old.yaml cases/acme.yaml --format markdown
    """
    from policycheck.io.config import merge
    from policycheck.diff import diff, side
    from policycheck.load.assessments import load_assessment_or_case
    from policycheck.render.diff import render
    from policycheck.errors import PolicycheckError

    opts = merge(config(config_file, no_config), rules=rules_dirs, no_bundled=no_bundled)
    pack = load_pack(opts.rules, not opts.bundled)
    sides = []
    errors: list[str] = []
    for path in (old, new):
        try:
            sides.append(side(str(path), load_assessment_or_case(path), pack))
        except PolicycheckError as exc:
            errors += exc.lines()
    if errors:
        raise Fail(errors)
    result = guard(lambda: diff(sides[0], sides[1]))
    write(render(result, fmt), output)
    if result.new_concerns and not exit_zero:
        click.get_current_context().exit(EXIT_FLAGGED)


COMMANDS: list[click.Command] = [diff_cmd]
