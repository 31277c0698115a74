"""`validate`, `rules`, `schema` and `facts`: check case files and show the rule pack and formats."""

from __future__ import annotations

import click

from policycheck.cli.common import (
    Fail, config, config_options, emit, guard, load_pack, output_option, rules_option,
)

VALIDATE_FORMATS = ("text", "json")
RULES_FORMATS = ("table", "json", "markdown")
SCHEMA_FORMATS = ("json", "yaml")
FACTS_FORMATS = ("json", "table")


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(VALIDATE_FORMATS), default="text", show_default=True,
              help="text: one line; json: the valid files and their case ids.")
@output_option(VALIDATE_FORMATS)
@click.option("--exclude", multiple=True, metavar="GLOB",
              help="Leave out case files matching GLOB (repeatable; as for assess, and the configuration's "
                   "'exclude' when not given).")
@config_options
def validate(paths: tuple[str, ...], fmt: str, outputs: tuple[str, ...], exclude: tuple[str, ...],
             config_file: str | None, no_config: bool) -> None:
    """Check case files against the case format; print one line per problem.

    Reads .policycheck.yaml / [tool.policycheck] as assess does: its 'exclude' patterns and
    'limits' apply.

    \b
    Example:
        policycheck validate cases/
        policycheck validate cases/ --format json -o validated.json
    """
    import json

    from policycheck import limits
    from policycheck.io.config import merge
    from policycheck.load.cases import load_cases as load_all
    from policycheck.load.walk import case_paths

    opts = merge(config(config_file, no_config), exclude=exclude)
    with limits.using(opts.limits):
        walk = case_paths(paths, opts.exclude)
        if not walk.files:
            why = f" ({walk.excluded} excluded by --exclude)" if walk.excluded else ""
            raise Fail([f"{', '.join(paths)}: no case files (.yaml, .yml, .json) found{why}"])
        files = walk.files
        cases = list(guard(lambda: load_all(files)))

    def render(form: str) -> str:
        if form == "json":
            body = {"valid": len(cases), "excluded": walk.excluded,
                    "files": [{"file": c.file, "case": c.case.id} for c in cases]}
            return json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        return f"{len(cases)} case file{'s' if len(cases) != 1 else ''} valid\n"

    emit(render, outputs, fmt, VALIDATE_FORMATS)


@click.command(name="rules")
@click.option("--format", "fmt", type=click.Choice(RULES_FORMATS), default="table", show_default=True)
@output_option(RULES_FORMATS)
@click.option("--section", metavar="SECTION",
              help="Only rules citing this report section or a part of it (3.3 matches 3.3.1 and 3.3.1(c); "
                   "3.3.1 does not match 3.3.10); a table also shows what the section describes and how it is "
                   "covered.")
@click.option("--coverage", "coverage_file", type=click.Path(), metavar="FILE",
              help="Coverage file: the report's sections and which rules encode each mechanism "
                   "[default: the bundled docs/coverage.yaml].")
@config_options
@rules_option
def rules_cmd(fmt: str, outputs: tuple[str, ...], section: str | None, coverage_file: str | None,
              config_file: str | None, no_config: bool, rules_dirs: tuple[str, ...], bundled: bool | None) -> None:
    """List the rules: id, severity, conditions, cited sections and title.

    The pack is the one assess uses: the configuration's 'rules' and 'bundled'
    (.policycheck.yaml / [tool.policycheck]) unless --rules / --bundled / --no-bundled say
    otherwise.

    The Markdown catalogue (docs/rules.md) takes chapter 3 section by section: the mechanisms
    each section describes, the rules that encode them or the reason none does (from the
    coverage file), and the rules citing the section. With --no-bundled and no --coverage,
    only the coverage file's section list is used (its mechanisms name bundled rules).

    \b
    Example:
        policycheck rules --section 3.3.1
        policycheck rules --format markdown -o docs/rules.md
    """
    from policycheck import limits
    from policycheck.io.config import merge
    from policycheck.render import catalogue

    opts = merge(config(config_file, no_config), rules=rules_dirs, bundled=bundled)
    with limits.using(opts.limits):
        pack = load_pack(opts.rules, opts.bundled)
    coverage = guard(lambda: catalogue.load_coverage(coverage_file))
    if not opts.bundled and coverage_file is None:
        coverage = coverage.without_mechanisms()

    def render(form: str) -> str:
        try:
            return catalogue.render(pack, form, coverage=coverage, section=section)
        except catalogue.SectionError as exc:  # one line, no file to point at
            raise Fail([exc.line]) from None

    emit(lambda form: guard(lambda: render(form)), outputs, fmt, RULES_FORMATS)


@click.command()
@click.option("--format", "fmt", type=click.Choice(SCHEMA_FORMATS), default="json", show_default=True)
@output_option(SCHEMA_FORMATS)
def schema(fmt: str, outputs: tuple[str, ...]) -> None:
    """Print the JSON Schema of the case format (for editors and CI validation).

    \b
    Example:
        policycheck schema -o case.schema.json
        policycheck schema --format yaml
    """
    import json

    import yaml

    from policycheck.model.case import SCHEMA_VERSION, Case

    body = Case.model_json_schema()
    body["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    body["title"] = f"policycheck case file v{SCHEMA_VERSION}"

    def render(form: str) -> str:
        if form == "yaml":
            return str(yaml.safe_dump(body, sort_keys=True, allow_unicode=True))
        return json.dumps(body, indent=2, sort_keys=True) + "\n"

    emit(render, outputs, fmt, SCHEMA_FORMATS)


@click.command()
@click.argument("search", nargs=-1)
@click.option("--format", "fmt", type=click.Choice(FACTS_FORMATS), default="json", show_default=True)
@output_option(FACTS_FORMATS)
def facts(search: tuple[str, ...], fmt: str, outputs: tuple[str, ...]) -> None:
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

    def render(form: str) -> str:
        if form == "json":
            return json.dumps(vocabulary, indent=2, sort_keys=True) + "\n"
        rows = []
        for t, fields in vocabulary.items():
            for name, spec in fields.items():
                kind = str(spec["kind"]) + (f" of {spec['item']}" if "item" in spec else "")
                source = ("derived from " if spec.get("derived") else "") + str(spec["case_path"])
                values = spec.get("values")
                rows.append((f"{t}.{name}", kind, source,
                             ", ".join(map(str, values)) if isinstance(values, list) else ""))
        widths = [max(len(r[i]) for r in rows) for i in range(2)]
        return "".join(f"{field:<{widths[0]}}  {kind:<{widths[1]}}  <- {source}" + (f"  [{values}]" if values else "")
                       + "\n" for field, kind, source, values in rows)

    emit(render, outputs, fmt, FACTS_FORMATS)


COMMANDS: list[click.Command] = [validate, rules_cmd, schema, facts]
