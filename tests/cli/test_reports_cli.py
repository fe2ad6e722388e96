"""kpi report, kpi statement and kpi notify as a user runs them: what they write, and bad input answered in one
sentence with a non-zero exit."""

from __future__ import annotations

import pytest

from kpi_engine.store.database import open_store
from tests.cli.conftest import one_sentence_error
from tests.support.saved_runs import add_people, save_lines

TRACE = {
    "rule_type": "tiered_commission",
    "basis": "attainment",
    "inputs": {"bookings": "1", "target": "1", "attainment": "1"},
    "explanation": ["Measured bookings 1 against target 1."],
}


def _one_month() -> None:
    own = open_store("sqlite:///kpi.sqlite")
    add_people(own, [("E1", "Li Lei", "t1", None)])
    save_lines(own, "sales-commission", "2026-11", [("E1", "commission", "payout", None, TRACE)])
    own.dispose()


@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        (("report", "--period", "2026-13"), "month 13"),
        (("report", "--period", "2031-01"), "nothing was evaluated for 2031-01"),
        (("report", "--period", "2026-11", "--lang", "fr"), "Invalid value for '--lang'"),
        (("statement", "--period", "2026-11"), "name one person with --person, or everyone with --all"),
        (("statement", "--person", "NOPE", "--period", "2026-11"), "no person 'NOPE'"),
        (("notify", "--config", "missing.yaml"), "no notification config"),
    ],
)
def test_bad_input_is_one_sentence_and_a_non_zero_exit(kpi, args, sentence):
    _one_month()

    result = kpi(*args)

    if "Invalid value" in sentence:
        assert result.code == 2 and sentence in result.err and "Traceback" not in result.err
    else:
        assert sentence in one_sentence_error(result)


def test_kpi_report_and_statement_write_what_they_say(kpi):
    _one_month()

    report = kpi("report", "--period", "2026-11", "--out", "site")
    statement = kpi("statement", "--person", "E1", "--period", "2026-11", "--out", "li-lei.html")

    assert report.code == 0 and "Open site/index.html" in report.out
    assert statement.code == 0 and "li-lei.html" in statement.out
