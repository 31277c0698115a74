"""Shared test configuration: hypothesis profiles and the pytester plugin.

Hypothesis profiles (choose with ``HYPOTHESIS_PROFILE``):

* ``ci`` (default): few examples, no deadline; the whole suite stays well under three
  minutes on two cores.
* ``long``: many more examples, for a local run before touching the engine, compiler or
  rule pack: ``HYPOTHESIS_PROFILE=long pytest tests/test_properties.py tests/test_differential.py``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

pytest_plugins = ["pytester"]

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

settings.register_profile("ci", max_examples=40, deadline=None, suppress_health_check=_SLOW_OK, print_blob=True)
settings.register_profile("long", max_examples=1000, deadline=None, suppress_health_check=_SLOW_OK, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
