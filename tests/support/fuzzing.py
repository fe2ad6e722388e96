"""Settings for the fuzz targets: a few examples in the suite, as many as asked for on demand.

``KPI_FUZZ_EXAMPLES=10000 pytest tests/fuzz`` runs each target that long, with fresh random
examples; without it a target runs its suite budget, derandomised so the suite is repeatable.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

__all__ = ["FUZZ_EXAMPLES_ENV", "fuzz_settings"]

FUZZ_EXAMPLES_ENV = "KPI_FUZZ_EXAMPLES"


def fuzz_settings(in_suite: int) -> settings:
    """Hypothesis settings for a fuzz target: ``in_suite`` examples, or ``$KPI_FUZZ_EXAMPLES``."""
    asked = os.environ.get(FUZZ_EXAMPLES_ENV)
    return settings(
        max_examples=int(asked) if asked else in_suite,
        derandomize=not asked,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
