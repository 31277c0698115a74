"""Shared test configuration: hypothesis profiles, the pytester plugin, the golden guard.

Golden guard: goldens are only written by ``tests/update_goldens.py``. A test session with
``POLICYCHECK_UPDATE_GOLDEN`` set (the old "regenerate while testing" switch) stops before
collecting anything, so CI cannot pass with it and nobody believes a run rewrote goldens.

Hypothesis profiles (choose with ``HYPOTHESIS_PROFILE``):

* ``ci`` (default): few examples, no deadline; the whole suite stays well under three
  minutes on two cores.
* ``long``: many more examples, for a local run before touching the engine, compiler or
  rule pack: ``HYPOTHESIS_PROFILE=long pytest tests/test_properties.py tests/test_differential.py``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import pytest
from hypothesis import HealthCheck, settings

pytest_plugins = ["pytester"]

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

settings.register_profile("ci", max_examples=40, deadline=None, suppress_health_check=_SLOW_OK, print_blob=True)
settings.register_profile("long", max_examples=1000, deadline=None, suppress_health_check=_SLOW_OK, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


GOLDEN_UPDATE_VAR = "POLICYCHECK_UPDATE_GOLDEN"


def golden_update_refusal(environ: Mapping[str, str]) -> str | None:
    """Why this session must not run (the update switch is set), or None."""
    if GOLDEN_UPDATE_VAR not in environ:
        return None
    return (f"{GOLDEN_UPDATE_VAR} is set ({environ[GOLDEN_UPDATE_VAR]!r}): tests never write goldens; "
            "unset it, and regenerate goldens with `.venv/bin/python tests/update_goldens.py`")


def pytest_configure(config: pytest.Config) -> None:
    refusal = golden_update_refusal(os.environ)
    if refusal is not None:
        raise pytest.UsageError(refusal)
