"""The command line: a thin click layer over the library.

Only this module turns PolicycheckError into one-line messages and exit codes:
0 ok, 1 a flag at or above --fail-on, 2 bad input or usage.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from policycheck import __version__

EXIT_OK, EXIT_FLAGGED, EXIT_INPUT = 0, 1, 2
SEVERITIES = ("info", "low", "medium", "high")


class _Fail(click.ClickException):
    exit_code = EXIT_INPUT

    def __init__(self, lines: Sequence[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = list(lines)

    def show(self, file: Any = None) -> None:
        for line in self.lines:
            click.echo(f"error: {line}", err=True)


def _guard(fn: Callable[[], Any]) -> Any:
    from policycheck.errors import PolicycheckError

    try:
        return fn()
    except PolicycheckError as exc:
        raise _Fail(exc.lines()) from None


def _write(text: str, output: str | None) -> None:
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
        raise _Fail([f"{output}: cannot write: {exc.strerror or exc}"]) from None


def _rules_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--rules", "rules_dirs", multiple=True, type=click.Path(), metavar="DIR",
                      help="Extra rule folder (repeatable); added to the bundled pack.")(fn)
    fn = click.option("--no-bundled", is_flag=True, help="Use only the --rules folders, not the bundled pack.")(fn)
    return fn


def _load_pack(rules_dirs: Sequence[str], no_bundled: bool) -> Any:
    from policycheck.load.rules import load_rules

    if no_bundled and not rules_dirs:
        raise click.UsageError("--no-bundled needs at least one --rules DIR")
    return _guard(lambda: load_rules(rules_dirs, bundled=not no_bundled))


def _load_cases(paths: Sequence[str]) -> list[Any]:
    from policycheck.load.cases import iter_case_files, load_cases

    files = list(iter_case_files(paths))
    if not files:
        raise _Fail([f"{', '.join(paths)}: no case files (.yaml, .yml, .json) found"])
    return list(_guard(lambda: load_cases(files)))


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="policycheck")
def main() -> None:
    """Assess AI model licences, partnerships and data-access changes against the CMA's
    AI Foundation Models report (chapter 3): conditions C1-C4 and open-then-closed risks.
    """


ASSESS_FORMATS = ("table", "json", "markdown", "sarif", "junit", "html")


def _warn(lines: Sequence[str]) -> None:
    for line in lines:
        click.echo(f"warning: {line}", err=True)


def _config(config_file: str | None, no_config: bool) -> Any:
    from policycheck.io.config import Config, discover, load_config

    if no_config:
        return Config()
    return _guard(lambda: load_config(config_file) if config_file else discover())


def _today(value: str | None) -> Any:
    from policycheck.review.apply import today_from

    try:
        return today_from(value)
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected a date as YYYY-MM-DD", param_hint="'--today'") from None


def _config_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--no-config", is_flag=True, help="Ignore .policycheck.yaml / [tool.policycheck].")(fn)
    fn = click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None, metavar="FILE",
                      help="Read this configuration file instead of searching up from the working directory.")(fn)
    return fn


@main.command()
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
@click.option("--today", hidden=True, envvar="POLICYCHECK_TODAY", default=None,
              help="The date waivers are checked against, YYYY-MM-DD (for reproducible runs).")
@_config_options
@_rules_option
def assess(paths: tuple[str, ...], fmt: str | None, fail_on: str | None, output: str | None, waivers: str | None,
           baseline: str | None, write_baseline: str | None, today: str | None, config_file: str | None,
           no_config: bool, rules_dirs: tuple[str, ...], no_bundled: bool) -> None:
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
    """
    from policycheck.evaluate import assess as run_assess
    from policycheck.review.baseline import baseline_json, load_baseline
    from policycheck.io.config import merge
    from policycheck.review.apply import review
    from policycheck.review.waivers import load_waivers

    opts = merge(_config(config_file, no_config), rules=rules_dirs, no_bundled=no_bundled, fail_on=fail_on,
                 waivers=waivers, baseline=baseline, fmt=fmt)
    day = _today(today)
    pack = _load_pack(opts.rules, not opts.bundled)
    cases = _load_cases(paths)
    waivers_file, baseline_file = opts.waivers, opts.baseline
    waiver_list = _guard(lambda: load_waivers(waivers_file, [r.id for r in pack.rules])) if waivers_file else None
    accepted = _guard(lambda: load_baseline(baseline_file)) if baseline_file else None
    result = _guard(lambda: run_assess(cases, pack))
    warnings: list[str] = []
    if waiver_list is not None or accepted is not None:
        result, problems = review(result, today=day, waivers=waiver_list, waivers_file=opts.waivers,
                                  baseline=accepted, baseline_file=opts.baseline)
        warnings = [p.render() for p in problems]
    text = _render(opts.format, result, pack)
    if write_baseline:
        _write(baseline_json(result), write_baseline)
    _write(text, output)
    _warn(warnings)
    if opts.fail_on is not None and result.failing(opts.fail_on):
        sys.exit(EXIT_FLAGGED)


def _render(fmt: str, result: Any, pack: Any) -> str:
    if fmt == "json":
        return str(result.to_json())
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

    return render_assessment(result)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
def validate(paths: tuple[str, ...]) -> None:
    """Check case files against the case format; print one line per problem.

    \b
    Example:
        policycheck validate cases/
    """
    cases = _load_cases(paths)
    click.echo(f"{len(cases)} case file{'s' if len(cases) != 1 else ''} valid")


@main.command(name="rules")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]), default="table", show_default=True)
@_rules_option
def rules_cmd(fmt: str, rules_dirs: tuple[str, ...], no_bundled: bool) -> None:
    """List the rules: id, severity, conditions, citation and title.

    \b
    Example:
        policycheck rules
        policycheck rules --format markdown > docs/rules.md
    """
    from policycheck.render import catalogue

    pack = _load_pack(rules_dirs, no_bundled)
    click.echo(catalogue.render(pack, fmt), nl=False)


@main.command()
def schema() -> None:
    """Print the JSON Schema of the case format (for editors and CI validation).

    \b
    Example:
        policycheck schema > case.schema.json
    """
    import json

    from policycheck.model.case import Case

    body = Case.model_json_schema()
    body["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    body["title"] = "policycheck case file v1"
    click.echo(json.dumps(body, indent=2, sort_keys=True))


@main.command()
@click.argument("search", nargs=-1)
@click.option("--format", "fmt", type=click.Choice(["json", "table"]), default="json", show_default=True)
def facts(search: tuple[str, ...], fmt: str) -> None:
    """Print the fact vocabulary rules can use: fact types, fields, kinds, allowed values, and
    the case-file field each fact field is read from (its case_path).

    Rules name fact fields (`aup_by_reference`), not case-file paths
    (`acceptable_use_policy.incorporated_by_reference`); give any part of either as SEARCH to
    see only the fields that match.

    \b
    Examples:
        policycheck facts | less
        policycheck facts --format table incorporated_by_reference
    """
    import json

    from policycheck.model.vocabulary import export

    vocabulary = export()
    if search:
        words = [w.lower() for w in search]
        vocabulary = {t: kept for t, fields in vocabulary.items()
                      if (kept := {name: spec for name, spec in fields.items()
                                   if any(w in f"{t}.{name}".lower() or w in str(spec["case_path"]).lower()
                                          for w in words)})}
        if not vocabulary:
            raise _Fail([f"no fact field or case path matches {', '.join(search)}"])
    if fmt == "json":
        click.echo(json.dumps(vocabulary, indent=2, sort_keys=True))
        return
    rows = []
    for t, fields in vocabulary.items():
        for name, spec in fields.items():
            kind = str(spec["kind"]) + (f" of {spec['item']}" if "item" in spec else "")
            source = ("derived from " if spec.get("derived") else "") + str(spec["case_path"])
            values = spec.get("values")
            rows.append((f"{t}.{name}", kind, source, ", ".join(map(str, values)) if isinstance(values, list) else ""))
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    for field, kind, source, values in rows:
        line = f"{field:<{widths[0]}}  {kind:<{widths[1]}}  <- {source}" + (f"  [{values}]" if values else "")
        click.echo(line)


def _register() -> None:
    from policycheck.cli import diff, testing

    for module in (testing, diff):
        for command in module.COMMANDS:
            main.add_command(command)


_register()

if __name__ == "__main__":  # pragma: no cover
    main()
