"""`policycheck test` and `policycheck lint` (rule unit tests and rule lint)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
