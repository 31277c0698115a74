"""`policycheck diff` (review workflows)."""

from __future__ import annotations

import click

from policycheck.cli.common import (
    EXIT_FLAGGED, Fail, config, config_options, exit_codes_help, guard_run, interrupts, listing, load_pack,
    output_option, rules_option,
)

DIFF_FORMATS = ("table", "markdown", "json")


@click.command(name="diff", epilog=exit_codes_help(
    "a new concern (an added or raised flag of medium or high severity, or a condition that moved to "
        "concern); the last line on stderr names them (\"policycheck: 2 new concerns: rule@case, C3@case\")"))
@click.argument("old", type=click.Path())
@click.argument("new", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(DIFF_FORMATS), default="table", show_default=True)
@output_option(DIFF_FORMATS)
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when the diff finds new concerns.")
@config_options
@rules_option
def diff_cmd(old: str, new: str, fmt: str, outputs: tuple[str, ...], exit_zero: bool, config_file: str | None,
             no_config: bool, rules_dirs: tuple[str, ...], bundled: bool | None) -> None:
    """Compare two versions of a case (case files, or assessment JSON from `assess --format json`):
    flags added and removed, severities and condition statuses changed, and for licences the
    terms in force, old against new. Exits 1 when there is a new concern (an added or raised flag
    of medium or high severity, or a condition that moved to concern).

    \b
    Example:
        git show main:cases/acme.yaml > /tmp/acme-old.yaml
        policycheck diff /tmp/acme-old.yaml cases/acme.yaml --format markdown
        policycheck diff old.yaml new.yaml -o markdown:diff.md -o json:diff.json
    """
    from policycheck.cli.outputs import STDOUT, AtomicFile, parse_outputs
    from policycheck.diff import diff, side
    from policycheck import limits
    from policycheck.errors import PolicycheckError
    from policycheck.io.config import merge
    from policycheck.load.assessments import load_assessment_or_case
    from policycheck.render.diff import render

    with interrupts():
        opts = merge(config(config_file, no_config, reason=True), rules=rules_dirs, bundled=bundled)
        with limits.using(opts.limits):   # the configured limits apply to diff as to assess
            specs = parse_outputs(outputs, fmt, DIFF_FORMATS)
            pack = load_pack(opts.rules, opts.bundled, reason=True)
            sides = []
            errors: list[str] = []
            bad: list[str] = []
            for path in (old, new):
                try:
                    sides.append(side(str(path), load_assessment_or_case(path), pack))
                except PolicycheckError as exc:
                    errors += exc.lines()
                    bad.append(str(path))
            if errors:
                raise Fail(errors, f"nothing compared: {listing(bad)} could not be read")
            result = guard_run(lambda: diff(sides[0], sides[1]))
            files = []
            try:
                for spec in specs:
                    if spec.target == STDOUT:
                        continue
                    try:
                        files.append((spec, AtomicFile(spec.target)))
                    except OSError as exc:
                        raise Fail([f"{spec.target}: cannot write: {exc.strerror or exc}"],
                                   f"nothing written: cannot write {spec.target}") from None
                for spec in specs:
                    if spec.target == STDOUT:
                        click.echo(render(result, spec.fmt), nl=False)
                for spec, sink in files:
                    sink.handle.write(render(result, spec.fmt))
                for _, sink in files:
                    sink.commit()
            except BaseException:
                for _, sink in files:
                    sink.discard()
                raise
            if result.new_concerns and not exit_zero:
                names = [f"{c.rule}@{c.case}" for c in result.flags if c.new_concern]
                names += [f"{c.condition}@{c.case}" for c in result.conditions if c.new_concern]
                n = result.new_concerns
                click.echo(f"policycheck: {n} new concern{'s' if n != 1 else ''}: {listing(names, n)}", err=True)
                click.get_current_context().exit(EXIT_FLAGGED)


COMMANDS: list[click.Command] = [diff_cmd]
