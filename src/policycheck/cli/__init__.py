"""The command line: a thin click layer over the library, one module per command family.

Only this package prints, turns PolicycheckError into one-line messages and chooses exit
codes (``cli.common``): 0 ok, 1 a flag at or above --fail-on (or a failing rule test), 2 bad
input or usage. Usage errors come out in the same shape as file errors (``cli.usage``).
"""

from __future__ import annotations

import click

from policycheck import __version__
from policycheck.cli import assess, diff, info, migrate, testing
from policycheck.cli.assess import ASSESS_FORMATS
from policycheck.cli.common import EXIT_FLAGGED, EXIT_INPUT, EXIT_OK
from policycheck.cli.usage import Group

__all__ = ["ASSESS_FORMATS", "EXIT_FLAGGED", "EXIT_INPUT", "EXIT_OK", "main"]


def _version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """``-V/--version``: the version and the bundled rule pack's digest (the digest outputs
    record), one line: ``policycheck, version 0.1.0 (rule pack 1a2b3c4d5e6f7a8b)``."""
    if not value or ctx.resilient_parsing:
        return
    from policycheck.cli.common import guard
    from policycheck.load.rules import load_rules

    pack = guard(load_rules)
    click.echo(f"policycheck, version {__version__} (rule pack {pack.digest})")
    ctx.exit()


@click.group(cls=Group, name="policycheck",
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("-V", "--version", is_flag=True, expose_value=False, is_eager=True, callback=_version,
              help="Show the version and the bundled rule pack's digest, and exit.")
def main() -> None:
    """Assess AI model licences, partnerships and data-access changes against the CMA's
    AI Foundation Models report (chapter 3): conditions C1-C4 and open-then-closed risks.
    """


for _module in (assess, info, testing, diff, migrate):
    for _command in _module.COMMANDS:
        main.add_command(_command)

if __name__ == "__main__":  # pragma: no cover
    main()
