"""`policycheck assess`: assess case files and write the flagged assessment."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from policycheck.cli.common import (
    EXIT_FLAGGED, SEVERITIES, Fail, config, config_options, guard, load_cases, load_pack, rules_option,
    today as parse_today, warn, write,
)

if TYPE_CHECKING:
    from policycheck.load.rules import RulePack
    from policycheck.model.assessment import Assessment

ASSESS_FORMATS = ("table", "json", "markdown", "sarif", "junit", "html")
EXPLAIN_FORMATS = ("table", "json")


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(ASSESS_FORMATS), default=None,
              help="Output format (default: the configuration's, else table). markdown is a pull-request "
                   "comment; sarif is for code scanning; junit for CI test reports; html a standalone report.")
@click.option("--fail-on", type=click.Choice(SEVERITIES), default=None,
              help="Exit 1 when any flag at or above this severity is not waived and not in the baseline.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write to FILE instead of stdout.")
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
                   "rule not assessed the case-file paths to fill in. With --format table or json only (json adds "
                   "an \"explain\" key to each case); other formats refuse it (exit 2).")
@click.option("--today", hidden=True, envvar="POLICYCHECK_TODAY", default=None,
              help="The date waivers are checked against, YYYY-MM-DD (for reproducible runs).")
@config_options
@rules_option
def assess(paths: tuple[str, ...], fmt: str | None, fail_on: str | None, output: str | None, waivers: str | None,
           baseline: str | None, write_baseline: str | None, as_of: str | None, explain: bool, today: str | None,
           config_file: str | None, no_config: bool, rules_dirs: tuple[str, ...], no_bundled: bool) -> None:
    """Assess case files (or folders of them) and print the flagged assessment.

    Settings not given on the command line come from .policycheck.yaml or [tool.policycheck]
    in pyproject.toml, found by walking up from the working directory.

    \b
    Example:
        policycheck assess cases/
        policycheck assess cases/licences/llama-2.yaml --format json --fail-on high
        policycheck assess cases/ --format sarif -o policycheck.sarif --waivers waivers.yaml
        policycheck assess cases/ --write-baseline baseline.json
        policycheck assess cases/ --baseline baseline.json --fail-on medium
        policycheck assess cases/deals/microsoft-openai.yaml --as-of 2023-06-30 --explain
    """
    from policycheck.evaluate import assess as run_assess
    from policycheck.review.baseline import baseline_json, load_baseline
    from policycheck.io.config import merge
    from policycheck.review.apply import review
    from policycheck.review.waivers import load_waivers

    opts = merge(config(config_file, no_config), rules=rules_dirs, no_bundled=no_bundled, fail_on=fail_on,
                 waivers=waivers, baseline=baseline, fmt=fmt)
    day = parse_today(today)
    if explain and opts.format not in EXPLAIN_FORMATS:
        raise Fail([f"--explain works with --format table or json, not {opts.format}"])
    date = _as_of(as_of, day.isoformat())
    pack = load_pack(opts.rules, not opts.bundled)
    cases = load_cases(paths)
    waivers_file, baseline_file = opts.waivers, opts.baseline
    waiver_list = guard(lambda: load_waivers(waivers_file, [r.id for r in pack.rules])) if waivers_file else None
    accepted = guard(lambda: load_baseline(baseline_file)) if baseline_file else None
    result = guard(lambda: run_assess(cases, pack, as_of=date))
    warnings: list[str] = []
    if waiver_list is not None or accepted is not None:
        result, problems = review(result, today=day, waivers=waiver_list, waivers_file=opts.waivers,
                                  baseline=accepted, baseline_file=opts.baseline)
        warnings = [p.render() for p in problems]
    text = _render(opts.format, result, pack, explain)
    if write_baseline:
        write(baseline_json(result), write_baseline)
    write(text, output)
    warn(warnings)
    if opts.fail_on is not None and result.failing(opts.fail_on):
        click.get_current_context().exit(EXIT_FLAGGED)


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


def _render(fmt: str, result: Assessment, pack: RulePack, explain: bool = False) -> str:
    if fmt == "json":
        if explain:
            from policycheck.render.explain import render_json

            return render_json(result)
        return result.to_json()
    if fmt == "markdown":
        from policycheck.render import markdown

        return markdown.render(result)
    if fmt == "sarif":
        from policycheck.render import sarif

        return sarif.render(result, pack)
    if fmt == "junit":
        from policycheck.render import junit

        return junit.render(result)
    if fmt == "html":
        from policycheck.render import html

        return html.render(result)
    from policycheck.render.table import render_assessment

    return render_assessment(result, explain=explain)



COMMANDS: list[click.Command] = [assess]
