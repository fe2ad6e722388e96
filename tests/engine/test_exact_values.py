"""A metric value that is not a number is a plan or data error naming its record, never a crash or a riddle.

Before: a record without a value stopped the evaluation with "metric 'clawback_events' returned None
(NoneType)" and a hint about floating-point SQL that means nothing to HR.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from kpi_engine import EvaluationError
from kpi_engine.engine.facts import exact_value


def test_a_record_without_a_value_is_a_data_error_naming_it():
    with pytest.raises(EvaluationError) as err:
        exact_value(None, "gross_margin", 2249, "deals")
    assert err.value.message == "metric 'gross_margin' has no value for record 2249 of deals."
    assert "CRM" in (err.value.hint or "") and "floating" not in (err.value.hint or "")


def test_text_where_a_number_belongs_names_the_record_and_a_float_names_the_metrics_sql():
    with pytest.raises(EvaluationError, match=r"gave 'n/a' for record 7 of refunds, not a number"):
        exact_value("n/a", "refunds", 7, "refunds")
    with pytest.raises(EvaluationError, match=r"returned 0.1 \(a binary float\) for person E1") as err:
        exact_value(0.1, "ratio", person="E1")
    assert "SQL" in (err.value.hint or "")
    assert exact_value(3, "count") == Decimal(3)
