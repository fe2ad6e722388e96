"""PIP trigger: N consecutive periods failing a condition raise a recommendation for HR review.

The rule never acts by itself: every outcome is a *recommendation* (kind ``recommendation``) that
HR reviews, with the evidence (the periods and their values) in the trace. Its ``status``:

- ``raised``: the condition failed in ``consecutive`` periods in a row (seed 002: two months below
  target); an observation window of ``observation.periods`` periods starts with the next period;
- ``observing``: a period inside the window (no second recommendation is raised meanwhile);
- ``passed`` / ``failed``: the window is over and the pass criterion (met in at least
  ``observation.pass_when_met`` of its periods) held or not;
- ``extended``: the criterion did not hold but the declared extension applies (met in at least
  ``extension.when_met`` periods): the window goes on for ``extension.periods`` more periods, judged by
  ``extension.pass_when_met``; an extension happens once.

After ``passed`` or ``failed`` the count of failing periods starts again from the next period.
A period whose measure cannot be computed (no value, or no target for attainment) is *no data*:
it breaks a failing run and, inside a window, does not count as met; the trace says so.

The state is derived, never stored elsewhere: the rule reads its own saved outcomes of earlier
periods (``ctx.history``), the nearest one being the anchor, and replays the periods after it
from the metric values (``ctx.values_in``); without an anchor it replays the longest span that can
matter. Re-running a period therefore always gives the same answer. People with nothing to report
in a period get no outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kpi_engine import ConditionText, KPIError, Period, RuleContext, RuleResult, RuleType, hookimpl, plain

from ._support import SavedOutcomes, judge, percent, periods_back

__all__ = ["Extension", "Observation", "PipState", "PipTrigger", "kpi_rule_types", "pip_step"]

Status = Literal["raised", "observing", "passed", "failed", "extended"]


class Extension(BaseModel):
    """A near miss extends the observation once instead of failing it."""

    model_config = ConfigDict(extra="forbid")

    when_met: int = Field(ge=0)  # met in at least this many window periods (fewer than pass_when_met)
    periods: int = Field(ge=1, le=24)
    pass_when_met: int = Field(ge=1)

    @model_validator(mode="after")
    def _fits(self) -> Extension:
        if self.pass_when_met > self.periods:
            raise ValueError(f"the extension cannot require {self.pass_when_met} periods met out of {self.periods}")
        return self


class Observation(BaseModel):
    """The window after a recommendation and its pass criterion."""

    model_config = ConfigDict(extra="forbid")

    periods: int = Field(ge=1, le=24)
    pass_when_met: int = Field(ge=1)  # met in at least this many of the window's periods
    extension: Extension | None = None

    @model_validator(mode="after")
    def _fits(self) -> Observation:
        if self.pass_when_met > self.periods:
            raise ValueError(
                f"the pass criterion cannot require {self.pass_when_met} periods met out of {self.periods}"
            )
        if self.extension and self.extension.when_met >= self.pass_when_met:
            raise ValueError("an extension applies to a near miss: extension.when_met must be below pass_when_met")
        return self


class PipTrigger(BaseModel):
    """Settings of a ``pip_trigger`` rule."""

    model_config = ConfigDict(extra="forbid")

    measure: str = "bookings"  # a metric or a name of the plan (e.g. a formula ``attainment: bookings / quota``)
    basis: Literal["attainment", "value"] = "value"  # attainment: the measure ÷ its target, computed here
    target_metric: str | None = None  # whose target is used for ``basis: attainment``; default: the measure
    fails_when: ConditionText  # e.g. "< 100%" (tests the period's value) or a condition over plan names
    consecutive: int = Field(ge=1, le=24)
    observation: Observation

    @property
    def span(self) -> int:
        """The most earlier periods that can bear on this period's state."""
        extension = self.observation.extension.periods if self.observation.extension else 0
        return self.consecutive + self.observation.periods + extension


@dataclass
class PipState:
    """Where a person stands: ``clear`` with a run of failing periods, or ``observing`` a window."""

    phase: Literal["clear", "observing"] = "clear"
    run: list[dict[str, Any]] = field(default_factory=list)  # failing periods in a row (clear)
    raised_in: str | None = None
    stage: Literal["observation", "extension"] = "observation"
    window: list[dict[str, Any]] = field(default_factory=list)  # periods observed so far
    extension: list[dict[str, Any]] = field(default_factory=list)

    def as_trace(self) -> dict[str, Any]:
        if self.phase == "clear":
            return {"phase": "clear", "run": self.run}
        return {
            "phase": "observing",
            "raised_in": self.raised_in,
            "stage": self.stage,
            "window": self.window,
            "extension": self.extension,
        }

    @classmethod
    def from_trace(cls, saved: Mapping[str, Any]) -> PipState:
        state = cls(phase=saved.get("phase", "clear"), run=list(saved.get("run", [])), raised_in=saved.get("raised_in"))
        state.stage = saved.get("stage", "observation")
        state.window = list(saved.get("window", []))
        state.extension = list(saved.get("extension", []))
        return state


def _met_count(entries: list[dict[str, Any]]) -> int:
    return sum(1 for entry in entries if entry["met"] is True)


def pip_step(config: PipTrigger, state: PipState, entry: dict[str, Any]) -> tuple[PipState, Status | None]:
    """Advance ``state`` by one period's ``entry`` (``period``, ``value``, ``met``); return the new state and status."""
    if state.phase == "clear":
        run = [*state.run, entry] if entry["met"] is False else []
        if len(run) >= config.consecutive:
            return PipState(phase="observing", raised_in=entry["period"], run=run[-config.consecutive :]), "raised"
        return PipState(run=run), None
    observation = config.observation
    if state.stage == "observation":
        window = [*state.window, entry]
        if len(window) < observation.periods:
            return PipState(phase="observing", raised_in=state.raised_in, window=window), "observing"
        met = _met_count(window)
        if met >= observation.pass_when_met:
            return PipState(), "passed"
        if observation.extension and met >= observation.extension.when_met:
            return PipState(phase="observing", raised_in=state.raised_in, stage="extension", window=window), "extended"
        return PipState(), "failed"
    assert observation.extension is not None
    extension = [*state.extension, entry]
    if len(extension) < observation.extension.periods:
        return PipState(
            phase="observing", raised_in=state.raised_in, stage="extension", window=state.window, extension=extension
        ), "observing"
    return PipState(), "passed" if _met_count(extension) >= observation.extension.pass_when_met else "failed"


def _entry(ctx: RuleContext, config: PipTrigger, period: Period, person: str) -> dict[str, Any]:
    """One period's measure for a person: the value judged and whether the condition was met."""
    current = period == ctx.period

    missing: list[str] = []

    def value_of(name: str, at: Period) -> Decimal | None:
        try:
            return (ctx.values.get(name, {}) if at == ctx.period else ctx.values_in(name, at)).get(person)
        except KPIError as exc:  # e.g. a formula whose target was never set for that period
            missing.append(exc.message)
            return None

    def lookup(name: str, back: int) -> Decimal | None:
        return value_of(name, periods_back(period, back)[-1] if back else period)

    measured = value_of(config.measure, period)
    entry: dict[str, Any] = {"period": period.label, "value": None, "met": None}
    if missing:
        entry["no_data"] = missing[0]
    if config.basis == "value":
        if measured is not None and (fails := judge(config.fails_when, measured, lookup)) is not None:
            entry |= {"value": plain(measured), "met": not fails}
        elif missing and "no_data" not in entry:
            entry["no_data"] = missing[0]
        return entry
    target_metric = config.target_metric or config.measure
    targets = ctx.targets.get(target_metric, {}) if current else ctx.targets_in(target_metric, period)
    levels = targets.get(person)
    if levels is None or levels.target == 0:
        entry["no_data"] = f"no {target_metric} target"
        return entry
    measured = measured if measured is not None else Decimal(0)
    attainment = measured / levels.target
    entry |= {
        "value": plain(attainment.quantize(Decimal("0.0001"))),
        "measured": plain(measured),
        "target": plain(levels.target),
        "met": judge(config.fails_when, attainment, lookup) is False,
    }
    return entry


def _anchor(
    ctx: RuleContext, config: PipTrigger, saved: SavedOutcomes, person: str
) -> tuple[PipState, list[Period], str]:
    """The state after the nearest saved outcome of this rule, and the periods to replay after it."""
    earlier = periods_back(ctx.period, config.span)  # nearest first
    for index, period in enumerate(earlier):
        for result in saved.of(ctx.rule_id, period, person):
            if "state" in result.trace:
                replay = list(reversed(earlier[:index]))
                return PipState.from_trace(result.trace["state"]), replay, f"the saved outcome of {period.label}"
    return (
        PipState(),
        list(reversed(earlier)),
        f"no saved outcome in the last {config.span} periods: replayed from the data",
    )


def _shown(entry: Mapping[str, Any], as_percent: bool) -> str:
    if entry["value"] is None:
        return f"{entry['period']} no data"
    value = Decimal(entry["value"])
    return f"{entry['period']} {percent(value) if as_percent else plain(value)}"


def _explain(config: PipTrigger, status: Status, state: PipState, before: PipState, entry: Mapping[str, Any]) -> str:
    what = "attainment" if config.basis == "attainment" else config.measure.replace("_", " ")
    as_percent = config.basis == "attainment" or "%" in str(config.fails_when)
    review = "A recommendation for HR review; nothing happens automatically."
    if status == "raised":
        run = ", ".join(_shown(e, as_percent) for e in state.run)
        obs = config.observation
        return (
            f"{what} {config.fails_when} in {config.consecutive} consecutive periods ({run}): a performance "
            f"improvement plan is recommended, observed over the next {obs.periods} periods and passed if met in at "
            f"least {obs.pass_when_met} of them. {review}"
        )
    window = before.extension + [dict(entry)] if before.stage == "extension" else before.window + [dict(entry)]
    seen = ", ".join(_shown(e, as_percent) for e in window)
    met = _met_count(window)
    if status == "observing":
        total = (
            config.observation.extension.periods
            if before.stage == "extension" and config.observation.extension
            else config.observation.periods
        )
        return (
            f"Observation after the recommendation of {before.raised_in}: "
            f"{len(window)} of {total} periods ({seen}); met in {met}. {review}"
        )
    if status == "extended":
        ext = config.observation.extension
        assert ext is not None
        return (
            f"Observation over ({seen}): met in {met}, fewer than "
            f"{config.observation.pass_when_met} but at least {ext.when_met}; extended by "
            f"{ext.periods} periods, passed if met in at least {ext.pass_when_met}. {review}"
        )
    need = config.observation.pass_when_met
    if before.stage == "extension" and config.observation.extension:
        need = config.observation.extension.pass_when_met
    verdict = "passed" if status == "passed" else "not passed"
    return f"Observation over ({seen}): met in {met} of {len(window)}, {need} needed: {verdict}. {review}"


def _inputs(config: PipTrigger, entry: Mapping[str, Any]) -> dict[str, Any]:
    """This period's numbers by their plan names: the measure (or attainment), what it was judged on."""
    name = "attainment" if config.basis == "attainment" else config.measure
    inputs: dict[str, Any] = {name: entry["value"]}
    if "measured" in entry:
        inputs |= {config.measure: entry["measured"], "target": entry["target"]}
    inputs["met"] = entry["met"]
    if "no_data" in entry:
        inputs["no_data"] = entry["no_data"]
    return inputs


def evaluate(ctx: RuleContext, config: PipTrigger) -> list[RuleResult]:
    results: list[RuleResult] = []
    saved = SavedOutcomes(ctx)
    for person in ctx.people:
        state, replay, anchored = _anchor(ctx, config, saved, person)
        reconstructed: list[str] = []
        for period in replay:
            state, status = pip_step(config, state, _entry(ctx, config, period, person))
            if status is not None:
                reconstructed.append(f"{period.label}: {status}")
        before = state
        entry = _entry(ctx, config, ctx.period, person)
        state, status = pip_step(config, state, entry)
        if status is None:
            continue
        trace: dict[str, Any] = {
            "rule_type": "pip_trigger",
            "status": status,
            "action": "recommendation for HR review; no automatic action is taken",
            "condition": (
                f"{'attainment' if config.basis == 'attainment' else config.measure} "
                f"{config.fails_when} fails the period"
            ),
            "inputs": _inputs(config, entry),
            "evidence": state.run
            if status == "raised"
            else (before.extension if before.stage == "extension" else before.window) + [entry],
            "state": state.as_trace(),
            "state_from": anchored,
            "explanation": _explain(config, status, state, before, entry),
        }
        if status == "raised":
            trace["observation"] = {
                "periods": config.observation.periods,
                "pass_when_met": config.observation.pass_when_met,
                "extension": config.observation.extension.model_dump() if config.observation.extension else None,
            }
        if reconstructed:
            trace["replayed"] = reconstructed
        results.append(
            RuleResult(
                person_id=person,
                amount=None,
                kind="recommendation",
                trace=trace,
                status=status,
                attention=status != "passed",  # raised, observing, extended or failed: HR has something to do
            )
        )
    return results


@hookimpl
def kpi_rule_types() -> list[RuleType[PipTrigger]]:
    return [
        RuleType(
            name="pip_trigger",
            description=(
                "Recommends a performance improvement plan for HR review after "
                "N consecutive failing periods; observes, then passes or fails."
            ),
            config_model=PipTrigger,
            metrics=lambda cfg: {cfg.measure} | ({cfg.target_metric} if cfg.target_metric else set()),
            local_names=lambda _cfg: {"value"},
            evaluate=evaluate,
        )
    ]
