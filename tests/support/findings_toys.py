"""A toy check as a third party would register it, for the findings tests."""

from __future__ import annotations

from kpi_engine import CheckConfig, Finding, RuleContext, RuleResult, RuleType


class BigDeals(CheckConfig):
    """Flags every evidence record of ``metric`` at or above ``at_least``."""

    metric: str = "bookings"
    at_least: int = 100000


def _evaluate(ctx: RuleContext, config: BigDeals) -> list[RuleResult]:
    table = ctx.evidence_table(config.metric) or "records"
    out = []
    for person, rows in sorted(ctx.record_details(config.metric).items()):
        big = [r["record_id"] for r in rows if r["value"] >= config.at_least]
        if big:
            sentence = f"{len(big)} record(s) of {config.metric} at or above {config.at_least}."
            finding = Finding(
                check="big_deals",
                person_id=person,
                period=ctx.period.label,
                severity=config.severity,
                explanation=sentence,
                evidence={table: tuple(big)},
                figures={"count": str(len(big))},
            )
            out.append(finding.as_result(config))
    return out


BIG_DEALS = RuleType(
    name="big_deals",
    description="Toy check: large records.",
    config_model=BigDeals,
    metrics=lambda cfg: {cfg.metric},
    evaluate=_evaluate,
)


def _evaluate_last_period(ctx: RuleContext, config: BigDeals) -> list[RuleResult]:
    """The same, over the records of the previous period (a check that names records paid earlier)."""
    table = ctx.evidence_table(config.metric) or "records"
    out = []
    for person, rows in sorted(ctx.record_details_in(config.metric, ctx.period.previous()).items()):
        big = [r["record_id"] for r in rows if r["value"] >= config.at_least]
        if big:
            sentence = f"{len(big)} record(s) of {config.metric} of last period at or above {config.at_least}."
            out.append(
                Finding(
                    check="big_deals_last_period",
                    person_id=person,
                    period=ctx.period.label,
                    severity=config.severity,
                    explanation=sentence,
                    evidence={table: tuple(big)},
                ).as_result(config)
            )
    return out


LOOK_BACK = RuleType(
    name="big_deals_last_period",
    description="Toy check: large records of the previous period.",
    config_model=BigDeals,
    metrics=lambda cfg: {cfg.metric},
    evaluate=_evaluate_last_period,
)
