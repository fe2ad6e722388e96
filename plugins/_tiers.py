"""Settings of a ``tiered_commission`` rule and the arithmetic of its bands (public ``kpi_engine`` API only).

The settings model checks a rule as a whole and reports every problem it finds at once, each at the key
it is about (``ConfigProblems``): a plan with a gap between two tiers and a negative cap hears of both.
Band ends are reported as HR wrote them: shares of the target (``100%–110%``) with ``basis: attainment``,
amounts (``1,000–5,000``) otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from kpi_engine import Amount, ConditionText, ConfigProblems, FormulaText, to_decimal

from ._commission_common import LEVELS, ZERO, percent, shown, simple_name

__all__ = ["Band", "Bound", "GateScope", "Tier", "TieredCommission", "band_text", "gated_bands", "tier_split"]


def _bound(value: Any) -> Decimal | str:
    if isinstance(value, str) and value.strip() in LEVELS:
        return value.strip()
    return to_decimal(value)


Bound = Annotated[Decimal | str, BeforeValidator(_bound)]
"""A band end: a number (an amount, or a share of the target with ``basis: attainment``) or a level name."""


def _gate_scope(value: Any) -> Decimal | str:
    if isinstance(value, str) and value.strip() in ("all", "accelerators"):
        return value.strip()
    return _bound(value)


GateScope = Annotated[Decimal | str, BeforeValidator(_gate_scope)]
"""What a gate holds back: ``all`` the bands, the ``accelerators`` (every band after the first), or the bands
from one band's start on (``100%``, ``target``, ``150000``)."""


class Tier(BaseModel):
    """One band ``[from, to)`` and its rate; the last band may leave ``to`` open."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: Bound = Field(alias="from")
    to: Bound | None = None
    rate: FormulaText
    excess_only: bool = False


def written(bound: Decimal | str | None, attainment: bool) -> str:
    """A band end as HR wrote it: ``100%`` of the target, ``5,000``, ``target``."""
    if bound is None:
        return ""
    if isinstance(bound, str):
        return bound
    return percent(bound) if attainment else shown(bound)


def band_text(tier: Tier, attainment: bool = False) -> str:
    if tier.to is None:
        return f"{written(tier.from_, attainment)} and above"
    return f"{written(tier.from_, attainment)}–{written(tier.to, attainment)}"


def _ordered(lower: Decimal | str, upper: Decimal | str) -> bool | None:
    """Whether ``lower < upper`` when both are of one kind; ``None`` when only the data can tell."""
    if isinstance(lower, Decimal) and isinstance(upper, Decimal):
        return lower < upper
    if isinstance(lower, str) and isinstance(upper, str):
        return LEVELS.index(lower) < LEVELS.index(upper)
    return None


Problems = list[tuple[tuple[str | int, ...], str]]


class TieredCommission(BaseModel):
    """Settings of a ``tiered_commission`` rule."""

    model_config = ConfigDict(extra="forbid")

    measure: FormulaText = Field(default="bookings", validate_default=True)
    basis: Literal["amount", "attainment"] = "amount"
    target_metric: str | None = None  # whose target is the quota; default: the measure
    method: Literal["marginal", "retroactive"]
    per: Literal["period", "transaction", "year_to_date"] = "period"
    boundary: Literal["lower", "upper"] = "lower"
    tiers: list[Tier] = Field(min_length=1)
    gate: ConditionText | None = None
    # What an unmet gate holds back: every band (all), the bands after the first (accelerators), or the bands
    # from one band's start on; and what the bands it holds back pay then (required unless all).
    gate_applies_to: GateScope = "all"
    gate_unmet_pays: Literal["base_rate", "nothing"] | None = None
    multiplier: FormulaText | None = None
    cap: Amount | None = None
    floor: Amount | None = None  # a guaranteed minimum per period
    floor_applies: Literal["always", "with_sales"] | None = None  # required with floor
    payout_threshold: Amount | None = None  # amounts below it are not paid at all
    # payout: the rule pays what it computes; earned: it only says what each deal earned (kind ``earned``, not
    # money in the ledger), for an ``instalments`` rule to pay on its schedule.
    outcome: Literal["payout", "earned"] = "payout"
    minimum_payout: Any = None  # the old name of payout_threshold: refused with the new one

    @model_validator(mode="after")
    def _consistent(self) -> TieredCommission:
        problems: Problems = []
        self._check_tiers(problems)
        self._check_measure(problems)
        self._check_gate(problems)
        self._check_limits(problems)
        if problems:
            raise ConfigProblems(problems, settings=self)
        return self

    def _check_tiers(self, problems: Problems) -> None:
        attainment = self.basis == "attainment"
        first = self.tiers[0].from_
        if not isinstance(first, Decimal) or first != ZERO:
            problems.append((("tiers", 0, "from"), f"the first tier must start at 0, not {written(first, attainment)}"))
        for index, (lower, upper) in enumerate(zip(self.tiers, self.tiers[1:])):
            if lower.to is None:
                problems.append(
                    (
                        ("tiers", index),
                        "only the last tier may be open-ended "
                        f"(the tier from {written(lower.from_, attainment)} is not last)",
                    )
                )
            elif upper.from_ != lower.to:
                ordered = _ordered(upper.from_, lower.to)
                kind = "overlap" if ordered else "leave a gap" if ordered is False else "do not meet"
                problems.append(
                    (
                        ("tiers", index + 1, "from"),
                        f"tiers {band_text(lower, attainment)} and {band_text(upper, attainment)} {kind}",
                    )
                )
        for index, tier in enumerate(self.tiers):
            if tier.to is not None and _ordered(tier.from_, tier.to) is False:
                problems.append(
                    (
                        ("tiers", index, "to"),
                        f"the tier from {written(tier.from_, attainment)} ends at {written(tier.to, attainment)}, "
                        "not after it",
                    )
                )
        excess = [t.excess_only for t in self.tiers]
        if any(excess):
            if self.method != "retroactive":
                problems.append(
                    (
                        ("method",),
                        "excess_only bands belong to retroactive tiers; with "
                        "marginal tiers every band already pays only its part",
                    )
                )
            if excess[0]:
                problems.append(
                    (("tiers", 0), "the first tier cannot be excess_only: some band must pay the amount below it")
                )
            if excess != sorted(excess):
                problems.append((("tiers",), "excess_only tiers must come last, after every retroactive band"))

    def _check_measure(self, problems: Problems) -> None:
        name = simple_name(self.measure)
        if self.per == "transaction" and name is None:
            problems.append(
                (
                    ("measure",),
                    f"per transaction needs the measure to be one metric name (its records are the transactions), "
                    f"not the formula {self.measure.text!r}",
                )
            )
        if self.basis == "attainment" and self.per == "transaction":
            problems.append(
                (("per",), "attainment tiers apply to a total (the period's or the year's), not per transaction")
            )
        if self.uses_levels and not (self.target_metric or name):
            problems.append((("target_metric",), "name the metric whose target is the quota with target_metric"))

    def _check_gate(self, problems: Problems) -> None:
        scope = self.gate_applies_to
        if scope == "all":
            if self.gate_unmet_pays is not None:
                problems.append(
                    (
                        ("gate_unmet_pays",),
                        "gate_unmet_pays says what held-back bands pay; it goes with gate_applies_to "
                        "(accelerators, or the band the gate starts at)",
                    )
                )
            return
        if self.gate is None:
            problems.append((("gate_applies_to",), "gate_applies_to needs a gate, the condition that holds bands back"))
        if self.gate_unmet_pays is None:
            problems.append(
                (
                    ("gate_applies_to",),
                    "say what the bands the gate holds back pay while it is not met: "
                    "gate_unmet_pays: base_rate (the rate of the band below them) or nothing",
                )
            )
        if self.first_gated_band() is None:
            starts = ", ".join(written(t.from_, self.basis == "attainment") for t in self.tiers[1:])
            problems.append(
                (
                    ("gate_applies_to",),
                    f"the gate can hold back the accelerators or the bands from one band's start on "
                    f"({starts or 'this rule has a single band'}), not "
                    f"{written(scope, self.basis == 'attainment')}",
                )
            )

    def _check_limits(self, problems: Problems) -> None:
        if self.cap is not None and self.floor is not None and self.floor > self.cap:
            problems.append((("floor",), f"the floor {self.floor} is above the cap {self.cap}"))
        for key in ("cap", "floor", "payout_threshold"):
            value = getattr(self, key)
            if value is not None and value < ZERO:
                problems.append(((key,), f"{key} cannot be negative ({value})"))
        if self.floor is not None and self.floor_applies is None:
            problems.append(
                (
                    ("floor",),
                    "say when the floor (a guaranteed minimum) applies: floor_applies: always (also in periods "
                    "without any sales) or with_sales (only in periods with something measured)",
                )
            )
        if self.floor is None and self.floor_applies is not None:
            problems.append((("floor_applies",), "floor_applies goes with floor, the guaranteed minimum"))
        if self.minimum_payout is not None:
            problems.append(
                (
                    ("minimum_payout",),
                    "minimum_payout is now payout_threshold: amounts below it are not paid at all. "
                    "A guaranteed minimum is floor (with floor_applies)",
                )
            )

    @property
    def quota_metric(self) -> str | None:
        return self.target_metric or simple_name(self.measure)

    @property
    def uses_levels(self) -> bool:
        return self.basis == "attainment" or any(isinstance(b, str) for t in self.tiers for b in (t.from_, t.to))

    def first_gated_band(self) -> int | None:
        """The index of the first band an unmet gate holds back (``None``: all of them, or no such band)."""
        scope = self.gate_applies_to
        if scope == "all":
            return None
        if scope == "accelerators":
            return 1 if len(self.tiers) > 1 else None
        for index, tier in enumerate(self.tiers[1:], start=1):
            if tier.from_ == scope:
                return index
        return None


@dataclass(frozen=True)
class Band:
    """A tier resolved for one person: amount bounds ``[lower, upper)``, its rate and how it pays."""

    lower: Decimal
    upper: Decimal | None
    rate: Decimal
    label: str
    excess_only: bool = False


def gated_bands(bands: list[Band], first: int, pays: str) -> tuple[list[Band], Decimal | None]:
    """The bands an unmet gate leaves, and the most of the value they pay on (``None``: all of it).

    ``base_rate``: the bands from ``first`` on pay the rate of the band below them. ``nothing``: they pay
    nothing, so the value is paid up to the first held-back band's start, by the bands below it (the last
    of which then runs to the top, so that a value on that start stays in it whatever the boundary says).
    """
    base = bands[first - 1]
    if pays == "base_rate":
        held = [
            replace(b, rate=base.rate, label=f"{b.label} (at {percent(base.rate)}: the gate is not met)")
            for b in bands[first:]
        ]
        return [*bands[:first], *held], None
    kept = [*bands[: first - 1], replace(base, upper=None)]
    return kept, bands[first].lower


def _reaches(value: Decimal, band: Band, boundary: str) -> bool:
    """Whether ``value`` falls in ``band`` or below its upper end (a value on the end: ``boundary``)."""
    return band.upper is None or (value <= band.upper if boundary == "lower" else value < band.upper)


def tier_split(
    bands: list[Band], value: Decimal, *, method: str, boundary: str = "lower", start: Decimal = ZERO
) -> list[dict[str, Any]]:
    """The lines ``value`` pays: one per band with ``band``, ``lower``, ``upper``, ``basis``, ``rate``, ``amount``.

    Marginal lines pay the part of ``[start, value]`` inside each band. Retroactive: the whole
    value (up to the first ``excess_only`` band) at the rate of the band reached, then the excess
    bands marginally. Values at or below ``start`` pay nothing. Amounts are exact (no rounding).
    """

    def line(band: Band, basis: Decimal) -> dict[str, Any]:
        return {
            "band": band.label,
            "lower": band.lower,
            "upper": band.upper,
            "basis": basis,
            "rate": band.rate,
            "amount": basis * band.rate,
        }

    if value <= start:
        return []
    if method == "marginal":
        lines = []
        for band in bands:
            top = value if band.upper is None else min(value, band.upper)
            basis = top - max(start, band.lower)
            if basis > ZERO:
                lines.append(line(band, basis))
        return lines
    if start != ZERO:
        raise ValueError("retroactive tiers measure from zero")
    whole = [b for b in bands if not b.excess_only]
    excess = [b for b in bands if b.excess_only]
    cut = excess[0].lower if excess else None
    retro_value = value if cut is None else min(value, cut)
    reached = next((b for b in whole if _reaches(retro_value, b, boundary)), whole[-1])
    lines = [line(reached, retro_value)]
    if cut is not None and value > cut:
        lines += tier_split(excess, value, method="marginal", start=cut)
    return lines
