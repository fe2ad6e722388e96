"""A deterministic sample company: a year of CRM data with known, planted gaming patterns.

Use it for demos, tutorials and to check that the anti-gaming rules find what was planted.
"""

from __future__ import annotations

from ._generator import generate_sample_company
from ._model import PlantedCase, SampleSummary

__all__ = ["PlantedCase", "SampleSummary", "generate_sample_company"]
