"""Alerts: a metric breaching a threshold for N consecutive intervals fires; it resolves when it recovers.

Intervals are the days or ISO weeks of the evaluated period (read through ``ctx.values_in`` for
each day or week) or the plan's periods themselves. Semantics are those of a pending period:
the alert fires on the N-th consecutive breaching interval, stays firing while the breach lasts
and resolves on the first interval that does not breach. A run that began in the previous period
counts: the rule looks back into the previous period's last intervals, so an alert can fire on the
first days of a month and an alert firing at the end of one period resolves in the next. Intervals
that ended before the person's hire date are not looked at.

Missing data (no value for the person in an interval) is handled as the plan declares
(``no_data``, required):

- ``breaks_run``: the interval is not a breach; the run starts again and a firing alert resolves;
- ``counts_as_breach``: the interval counts as a breach;
- ``keeps_state``: the interval changes nothing (the run neither grows nor breaks).

Each state change inside the period is one outcome of kind ``alert`` with ``state`` ``firing`` or
``resolved``, the interval where it happened and the intervals that caused it as evidence. An alert
still firing from the previous period without change is reported once as ``firing`` with
``carried_over: true``. An alert is a notice for people to act on; the rule takes no action itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kpi_engine import ConditionText, Period, RuleContext, RuleResult, RuleType, hookimpl, plain

from ._support import day_period, days_of, judge, periods_back, weeks_ending_in

__all__ = ["Alert", "AlertEvent", "kpi_rule_types", "replay"]

KEEPS_STATE_LOOKBACK = 31  # extra intervals looked back at under keeps_state (missing data a run may span)


class Alert(BaseModel):
    """Settings of an ``alert`` rule."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    metric: str
    breach_when: ConditionText  # e.g. "< 10%": an interval whose value holds this is a breach
    for_: int = Field(alias="for", ge=1, le=366)  # consecutive breaching intervals before it fires
    interval: Literal["day", "week", "period"]
    no_data: Literal["breaks_run", "counts_as_breach", "keeps_state"]
    message: str | None = None  # what the alert asks people to do, shown with it
    # Judge each interval this many intervals later, once late facts have arrived (leads convert days or weeks
    # after they are created): with interval period and lag 1, November's evaluation judges October.
    lag: int = Field(0, ge=0, le=12)


@dataclass(frozen=True)
class AlertEvent:
    """A state change at ``interval``: ``firing`` with the breaching run, or ``resolved``."""

    state: Literal["firing", "resolved"]
    interval: str
    evidence: tuple[tuple[str, Decimal | None], ...]  # (interval, value) that decided it
    cause: str


def _intervals(ctx: RuleContext, config: Alert) -> tuple[list[Period], list[Period]]:
    """The intervals looked back at (oldest first) and the intervals of the evaluated period."""
    lookback = config.for_ + (KEEPS_STATE_LOOKBACK if config.no_data == "keeps_state" else 0)
    if config.interval == "day":
        current = [day_period(day) for day in days_of(ctx.period)]
    elif config.interval == "week":
        current = weeks_ending_in(ctx.period)
    else:
        current = [ctx.period]
    if not current:
        return [], []
    if config.lag:
        current = [periods_back(p, config.lag)[-1] for p in current]
    earlier = list(reversed(periods_back(current[0], lookback)))
    return earlier, current


def _value(ctx: RuleContext, name: str, interval: Period, person: str) -> Decimal | None:
    found = ctx.values.get(name, {}) if interval == ctx.period else ctx.values_in(name, interval)
    return found.get(person)


def _point(ctx: RuleContext, config: Alert, interval: Period, person: str) -> tuple[str, Decimal | None, bool | None]:
    """An interval's label, the metric's value and whether it breaches (``None``: no data)."""
    value = _value(ctx, config.metric, interval, person)
    if value is None:
        return interval.label, None, None

    def lookup(name: str, back: int) -> Decimal | None:
        return _value(ctx, name, periods_back(interval, back)[-1] if back else interval, person)

    return interval.label, value, judge(config.breach_when, value, lookup)


def replay(
    config: Alert, series: list[tuple[str, Decimal | None, bool | None]], report_from: int
) -> tuple[list[AlertEvent], bool, tuple[tuple[str, Decimal | None], ...]]:
    """Walk ``series`` (interval label, value, breach or ``None`` for no data) oldest first; return the
    state changes at index ``report_from`` or later, whether the alert was firing just before that
    index, and its run then."""
    firing = False
    run: list[tuple[str, Decimal | None]] = []
    events: list[AlertEvent] = []
    firing_before = False
    run_before: tuple[tuple[str, Decimal | None], ...] = ()
    for index, (label, value, breaching) in enumerate(series):
        if index == report_from:
            firing_before, run_before = firing, tuple(run)
        if breaching is None and config.no_data == "keeps_state":
            continue
        breach = config.no_data == "counts_as_breach" if breaching is None else breaching
        if breach:
            run.append((label, value))
        else:
            run = []
        now_firing = len(run) >= config.for_
        if now_firing != firing and index >= report_from:
            if now_firing:
                events.append(
                    AlertEvent(
                        "firing", label, tuple(run[-config.for_ :]), f"{config.for_} consecutive breaching intervals"
                    )
                )
            else:
                cause = (
                    "no data (no_data: breaks_run)"
                    if breaching is None
                    else f"the value no longer holds {config.breach_when}"
                )
                events.append(AlertEvent("resolved", label, ((label, value),), cause))
        firing = now_firing
    if report_from >= len(series):
        firing_before, run_before = firing, tuple(run)
    return events, firing_before, run_before


def _text(value: Decimal | None) -> str | None:
    return None if value is None else plain(value)


def _shown(value: Decimal | None, as_percent: bool) -> str:
    if value is None:
        return "no data"
    return f"{plain(value * 100)}%" if as_percent else plain(value)


def _explain(config: Alert, event: AlertEvent, as_percent: bool) -> str:
    what = config.metric.replace("_", " ")
    if event.state == "firing":
        shown = ", ".join(f"{label} ({_shown(value, as_percent)})" for label, value in event.evidence)
        unit = {"day": "days", "week": "weeks", "period": "periods"}[config.interval]
        text = (
            f"{what} {config.breach_when} on {shown}: {config.for_} "
            f"consecutive {unit}, so the alert fires on {event.interval}."
        )
        if config.lag:
            later = f"{config.lag} {unit if config.lag > 1 else unit[:-1]}"
            text += f" Each is judged {later} later, once late facts are in."
        if any(value is None for _, value in event.evidence):
            text += " Intervals without data count as breaches in this plan (no_data: counts_as_breach)."
        return text + (f" {config.message}" if config.message else "")
    [(label, value)] = event.evidence
    if value is None:
        return (
            f"{what} has no data on {label}, which this plan treats as the "
            "end of the run (no_data: breaks_run); the alert is resolved."
        )
    return f"{what} on {label} is {_shown(value, as_percent)}: {event.cause}; the alert is resolved."


def evaluate(ctx: RuleContext, config: Alert) -> list[RuleResult]:
    earlier, current = _intervals(ctx, config)
    as_percent = "%" in str(config.breach_when)
    results: list[RuleResult] = []
    for person in ctx.people:
        info = ctx.people_info.get(person)
        hired = info.hire_date if info and info.hire_date else None
        looked_at = [p for p in earlier if hired is None or p.end > hired]  # nothing before the person started
        series = [_point(ctx, config, p, person) for p in [*looked_at, *current]]
        events, firing_before, run_before = replay(config, series, len(looked_at))
        base = {
            "rule_type": "alert",
            "metric": config.metric,
            "threshold": str(config.breach_when),
            "consecutive": config.for_,
            "interval": config.interval,
            "no_data": config.no_data,
            "action": "none: an alert notifies people; it changes nothing by itself",
        }
        if firing_before and (not events or events[0].interval != current[0].label):
            evidence = run_before[-config.for_ :]
            results.append(
                RuleResult(
                    person_id=person,
                    amount=None,
                    kind="alert",
                    status="firing",
                    attention=True,
                    trace={
                        **base,
                        "state": "firing",
                        "carried_over": True,
                        "at": current[0].label,
                        "inputs": {
                            config.metric: _text(evidence[-1][1]) if evidence else None,
                            "threshold": str(config.breach_when),
                        },
                        "since": evidence[-1][0] if evidence else None,
                        "evidence": [
                            {"interval": label, "value": None if v is None else plain(v)} for label, v in evidence
                        ],
                        "explanation": (
                            f"{config.metric.replace('_', ' ')} was still breaching {config.breach_when} when the "
                            f"previous period ended; the alert is firing as {ctx.period.label} begins."
                        ),
                    },
                )
            )
        for event in events:
            results.append(
                RuleResult(
                    person_id=person,
                    amount=None,
                    kind="alert",
                    status=event.state,
                    attention=event.state == "firing",
                    trace={
                        **base,
                        "state": event.state,
                        "at": event.interval,
                        "inputs": {config.metric: _text(event.evidence[-1][1]), "threshold": str(config.breach_when)},
                        "evidence": [
                            {"interval": label, "value": None if v is None else plain(v)} for label, v in event.evidence
                        ],
                        "explanation": _explain(config, event, as_percent),
                    },
                )
            )
    return results


@hookimpl
def kpi_rule_types() -> list[RuleType[Alert]]:
    return [
        RuleType(
            name="alert",
            description=(
                "Fires when a metric breaches a threshold for N consecutive "
                "days, weeks or periods; resolves when it recovers."
            ),
            config_model=Alert,
            metrics=lambda cfg: {cfg.metric},
            local_names=lambda _cfg: {"value"},
            evaluate=evaluate,
        )
    ]
