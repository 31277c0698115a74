"""`validate`, `rules`, `schema` and `facts`: check case files and show the rule pack and formats."""

from __future__ import annotations

import click

from policycheck.cli.common import Fail, guard, load_cases, load_pack, rules_option


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
def validate(paths: tuple[str, ...]) -> None:
    """Check case files against the case format; print one line per problem.

    \b
    Example:
        policycheck validate cases/
    """
    cases = load_cases(paths)
    click.echo(f"{len(cases)} case file{'s' if len(cases) != 1 else ''} valid")


@click.command(name="rules")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]), default="table", show_default=True)
@click.option("--section", metavar="SECTION",
              help="Only rules citing this report section or a part of it (3.3 matches 3.3.1 and 3.3.1(c); "
                   "3.3.1 does not match 3.3.10); a table also shows what the section describes and how it is "
                   "covered.")
@click.option("--coverage", "coverage_file", type=click.Path(), metavar="FILE",
              help="Coverage file: the report's sections and which rules encode each mechanism "
                   "[default: the bundled docs/coverage.yaml].")
@rules_option
def rules_cmd(fmt: str, section: str | None, coverage_file: str | None, rules_dirs: tuple[str, ...],
              no_bundled: bool) -> None:
    """List the rules: id, severity, conditions, cited sections and title.

    The Markdown catalogue (docs/rules.md) takes chapter 3 section by section: the mechanisms
    each section describes, the rules that encode them or the reason none does (from the
    coverage file), and the rules citing the section. With --no-bundled and no --coverage,
    only the coverage file's section list is used (its mechanisms name bundled rules).

    \b
    Example:
        policycheck rules --section 3.3.1
        policycheck rules --format markdown > docs/rules.md
    """
    from policycheck.render import catalogue

    pack = load_pack(rules_dirs, no_bundled)
    coverage = guard(lambda: catalogue.load_coverage(coverage_file))
    if no_bundled and coverage_file is None:
        coverage = coverage.without_mechanisms()

    def run() -> str:
        try:
            return catalogue.render(pack, fmt, coverage=coverage, section=section)
        except catalogue.SectionError as exc:  # one line, no file to point at
            raise Fail([exc.line]) from None

    click.echo(guard(run), nl=False)


@click.command()
def schema() -> None:
    """Print the JSON Schema of the case format (for editors and CI validation).

    \b
    Example:
        policycheck schema > case.schema.json
    """
    import json

    from policycheck.model.case import SCHEMA_VERSION, Case

    body = Case.model_json_schema()
    body["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    body["title"] = f"policycheck case file v{SCHEMA_VERSION}"
    click.echo(json.dumps(body, indent=2, sort_keys=True))


@click.command()
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
            raise Fail([f"no fact field or case path matches {', '.join(search)}"])
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


COMMANDS: list[click.Command] = [validate, rules_cmd, schema, facts]
