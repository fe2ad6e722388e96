"""What a metric plugin declares: a ``Metric``, and the ``MetricContext`` its SQL is built for."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Select

from ..fx import Conversion
from ..periods import Period
from .measures import Division, Measure

__all__ = ["Metric", "MetricContext", "MetricUnit"]

MetricUnit = Literal["money", "count", "ratio", "days", "hours", "minutes", "score"]


@dataclass(frozen=True)
class MetricContext:
    """What a metric's SQL is built for: one period in one time zone and currency.

    ``conversion``: how facts in other currencies become ``currency`` (a plan's ``conversion:`` resolved for
    the period, see ``kpi_engine.fx``); None keeps only the facts in ``currency``, as ``kpi metrics show``
    does for the currency it is asked for.
    """

    period: Period
    start: datetime  # first instant, UTC
    end: datetime  # first instant after, UTC
    time_zone: str
    currency: str
    conversion: Conversion | None = None


class Metric(BaseModel):
    """A metric computed by the database per person for a period.

    ``query`` returns a SELECT of ``(person_id, value)``, one row per person with data.
    ``evidence`` (optional) returns ``(person_id, record_id, value)``: the records behind
    the number, used for traces and for rules that pay per transaction.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    description: str
    unit: MetricUnit
    grain: str = "month"
    query: Callable[[MetricContext], Select[Any]]
    evidence: Callable[[MetricContext], Select[Any]] | None = None
    evidence_table: str | None = None
    zero_when_missing: bool = True  # a person with no rows scores 0 (a count or a sum)
    # Each person's value is exactly the sum of their evidence values: when a rule reads the evidence
    # anyway, the engine adds it up instead of asking the database a second time.
    evidence_adds_up: bool = False
    # Declared from facts (see ``fact_metric``): then the metric can also be grouped, rolled up and windowed.
    numerator: Measure | None = None
    denominator: Measure | None = None
    division: Division | None = None
    source: str = ""  # where the KPI comes from (e.g. the catalogue's source documents)
