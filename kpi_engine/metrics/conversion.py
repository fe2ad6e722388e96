"""Money metrics in the plan's currency: the SQL that converts a fact's amount, exactly, or says why it cannot.

A money metric's facts carry their amounts through ``MoneyTerms``::

    AMOUNT = MoneyTerms("amount")

    def collection_facts(ctx):
        inner = select(
            owner.label("person_id"),
            payments.c.id.label("record_id"),
            *AMOUNT.inputs(ctx, payments.c.amount, payments.c.currency, payments.c.received_at,
                           what=literal("payment ") + payments.c.remote_id),
        ).where(..., AMOUNT.keeps(ctx, payments.c.currency))
        return AMOUNT.facts(ctx, inner)

    fact_metric("collections", ..., "money", AMOUNT.measure(collection_facts),
                evidence=AMOUNT.evidence(collection_facts), evidence_adds_up=True)

``inputs`` selects the amount, its currency, the rate into the plan's currency (looked up once per
fact) and what names the fact; ``facts`` wraps that SELECT and turns each amount into the exact terms
of amount × rate (× a credit share), never overflowing (``exact_product``). Without a conversion in
the context (``kpi metrics show``) only facts in the context's currency are kept, as before. A fact
whose currency the plan's conversion cannot convert makes the metric's value an error naming the fact
and the missing rate (the measure's ``guard``): it is never left out without a word.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Date, String, Table, and_, case, cast, func, literal, select, true, type_coerce
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from ..fx import Conversion
from ..money import MONEY_SCALE, ExactDecimal
from ..store import schema as s
from .declaration import MetricContext
from .exact import exact_product
from .measures import FactsBuilder, Measure, exact_terms, refusal

__all__ = ["MONEY_SCALES", "MoneyTerms", "days_before", "local_day"]

MONEY_SCALES = (4, -10, -4, 1, 2, 5, 8, 10, 14, 20)
"""The scales of a money fact's term columns: every layout ``exact_product`` gives an amount (× share)
(× rate) fits one column per scale."""
_RATE_ONE = 10**s.FX_RATE_SCALE
_SHARE_ONE = 10**6
_AMOUNT_DIGITS, _SHARE_DIGITS, _RATE_DIGITS = 16, 7, 16  # below 10^12 units, at most 1, below 10^6


class local_day(FunctionElement[Any]):
    """The calendar day of a UTC time stamp in a time zone, ``days`` days earlier (a DATE on both backends)."""

    type = Date()
    inherit_cache = True
    name = "local_day"


@compiles(local_day)
def _local_day_default(element: local_day, compiler: Any, **kw: Any) -> str:
    moment, zone, days = list(element.clauses)
    return (
        f"(CAST(timezone({compiler.process(zone, **kw)}, timezone('UTC', {compiler.process(moment, **kw)})) AS DATE)"
        f" - {compiler.process(days, **kw)})"
    )


@compiles(local_day, "sqlite")
def _local_day_sqlite(element: local_day, compiler: Any, **kw: Any) -> str:
    moment, zone, days = list(element.clauses)
    args = ", ".join(compiler.process(c, **kw) for c in (moment, zone, days))
    return f"kpi_local_day({args})"  # registered on the connection by ``resolve_conversion`` (see kpi_engine.fx)


class days_before(FunctionElement[Any]):
    """A DATE column ``days`` days earlier."""

    type = Date()
    inherit_cache = True
    name = "days_before"


@compiles(days_before)
def _days_before_default(element: days_before, compiler: Any, **kw: Any) -> str:
    day, days = list(element.clauses)
    return f"({compiler.process(day, **kw)} - {compiler.process(days, **kw)})"


@compiles(days_before, "sqlite")
def _days_before_sqlite(element: days_before, compiler: Any, **kw: Any) -> str:
    day, days = list(element.clauses)
    return f"date({compiler.process(day, **kw)}, '-' || {compiler.process(days, **kw)} || ' days')"


def _int(value: int) -> Any:
    return literal(value, BigInteger())


@dataclass(frozen=True)
class MoneyTerms:
    """The columns of one converted amount in a metric's facts (``prefix`` names them)."""

    prefix: str = "amount"
    shared: bool = False
    """Whether the amount is multiplied by a credit share (a deal split) as well."""

    # --- names ------------------------------------------------------------------------------

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f"{self.prefix}_t{i}" for i in range(len(MONEY_SCALES)))

    @property
    def guard(self) -> str:
        return f"{self.prefix}_unconvertible"

    def _in(self, name: str) -> str:
        return f"{self.prefix}_{name}"

    # --- the inner SELECT -------------------------------------------------------------------

    def keeps(self, ctx: MetricContext, currency: Any) -> Any:
        """The filter on the facts' currency: the context's only, when it converts nothing."""
        return currency == ctx.currency if ctx.conversion is None else true()

    def inputs(
        self,
        ctx: MetricContext,
        amount: Any,
        currency: Any,
        at: Any,
        *,
        record: tuple[Table, str],
        share: Any = None,
    ) -> list[Any]:
        """Columns for the inner SELECT: the raw amount, its currency, its rate and day, what names the fact.

        ``at`` is the fact's time stamp (UTC) or calendar day; ``record`` the fact's table and what a message
        calls it (``(deals, "deal")``: "deal D-2 is in USD …", its remote id read only for such a message, so
        that an index holding the amounts still answers the query); ``share`` a ``Ratio`` column or None.
        """
        conversion = ctx.conversion
        rate, rate_day, day = self._rate(conversion, currency, at)
        rate_name = "rate_id" if conversion is not None and conversion.method == "fact_date" else "rate"
        table, called = record
        named = table.alias(f"{self.prefix}_named")
        what = select(literal(f"{called} ") + named.c.remote_id).where(named.c.id == table.c.id).scalar_subquery()
        columns = [
            _cast_raw(amount).label(self._in("raw")),
            currency.label(self._in("currency")),
            rate.label(self._in(rate_name)),
            rate_day.label(self._in("rate_day")),
            day.label(self._in("day")),
            what.label(self._in("what")),
        ]
        if self.shared:
            raw_share = _int(_SHARE_ONE) if share is None else func.coalesce(_cast_raw(share), _int(_SHARE_ONE))
            columns.append(raw_share.label(self._in("share")))
        return columns

    def _rate(self, conversion: Conversion | None, currency: Any, at: Any) -> tuple[Any, Any, Any]:
        """The rate into the plan's currency (an integer at 10⁻¹⁰, NULL when there is none), its day, the fact's day."""
        none_day = literal(None, Date())
        if conversion is None or conversion.method == "none":
            target = conversion.target if conversion else None
            rate = _int(_RATE_ONE) if target is None else case((currency == target, _int(_RATE_ONE)), else_=None)
            return rate, none_day, none_day
        if conversion.method in ("fixed", "period_average"):
            whens = [(currency == c, _int(int(r.scaleb(s.FX_RATE_SCALE)))) for c, r in sorted(conversion.rates.items())]
            return case(*whens, else_=None), none_day, none_day
        # The id of the newest rate of the fact's day or the days before it (the rate and its day are joined
        # once, in ``facts``: each time the fact's local day is needed, SQLite calls back into Python).
        zone, age = conversion.time_zone, conversion.max_age_days
        day: Any = at if isinstance(at.type, Date) else local_day(at, zone, 0)
        earliest: Any = days_before(at, age) if isinstance(at.type, Date) else local_day(at, zone, age)
        r = s.fx_rates.c
        newest = (
            select(r.id)
            .where(r.from_currency == currency, r.to_currency == conversion.target, r.day <= day, r.day >= earliest)
            .order_by(r.day.desc())
            .limit(1)
            .scalar_subquery()
        )
        return case((currency == conversion.target, None), else_=newest), none_day, day

    # --- the outer SELECT -------------------------------------------------------------------

    def facts(self, ctx: MetricContext, inner: Any) -> Any:
        """``inner`` (a SELECT with ``inputs``) wrapped: its other columns, the amount's exact terms, the guard,
        and the evidence columns (``<prefix>_original``, ``_currency``, ``_rate``, ``_rate_day``)."""
        sub = inner.subquery(f"{self.prefix}_facts")
        own = {self._in(n) for n in ("raw", "currency", "rate", "rate_id", "rate_day", "day", "what", "share")}
        raw, source = sub.c[self._in("raw")], sub
        if self._in("rate_id") in sub.c:  # fact_date: the rate found for each fact, and its day
            assert ctx.conversion is not None
            fx = s.fx_rates.alias(f"{self.prefix}_fx")
            source = sub.outerjoin(fx, fx.c.id == sub.c[self._in("rate_id")])
            rate = case(
                (sub.c[self._in("currency")] == ctx.conversion.target, _int(_RATE_ONE)), else_=_cast_raw(fx.c.rate)
            )
            rate_day = fx.c.day
        else:
            rate, rate_day = sub.c[self._in("rate")], sub.c[self._in("rate_day")]
        factors = [(raw, MONEY_SCALE, _AMOUNT_DIGITS)]
        if self.shared:
            factors.append((sub.c[self._in("share")], 6, _SHARE_DIGITS))
        converting = ctx.conversion is not None and ctx.conversion.method != "none"
        if converting:
            factors.append((rate, s.FX_RATE_SCALE, _RATE_DIGITS))
        terms = exact_product(factors)
        by_scale: dict[int, Any] = {}
        for expr, scale in terms:
            if scale in by_scale:  # pragma: no cover - the layouts of MONEY_SCALES have one term per scale
                raise AssertionError(f"two terms at scale {scale}")
            by_scale[scale] = expr
        if ctx.conversion is None:  # only the context's currency was kept: nothing can be missing
            columns = [
                (by_scale[scale] if scale in by_scale else _int(0)).label(name)
                for name, scale in zip(self.columns, MONEY_SCALES, strict=True)
            ]
            guard: list[Any] = []  # no guard column: the measure has nothing to refuse
        else:
            missing = and_(rate.is_(None), raw.is_not(None))  # only an amount needs a rate
            columns = [
                (case((missing, None), else_=by_scale[scale]) if scale in by_scale else _int(0)).label(name)
                for name, scale in zip(self.columns, MONEY_SCALES, strict=True)
            ]
            day_text = func.coalesce(cast(sub.c[self._in("day")], String()), "")
            problem = sub.c[self._in("what")] + "|" + sub.c[self._in("currency")] + "|" + day_text
            guard = [case((missing, problem), else_=None).label(self.guard)]
        return select(
            *[c for c in sub.c if c.name not in own],
            *columns,
            *guard,
            type_coerce_exact(raw, MONEY_SCALE).label(self._in("original")),
            sub.c[self._in("currency")].label(self._in("currency")),
            type_coerce_exact(rate, s.FX_RATE_SCALE).label(self._in("rate")),
            rate_day.label(self._in("rate_day")),
        ).select_from(source)

    # --- what metrics declare ---------------------------------------------------------------

    def measure(self, facts: FactsBuilder) -> Measure:
        """The sum of the converted amounts, guarded: a fact that cannot be converted is an error."""
        return Measure(facts, "sum", self.columns, MONEY_SCALES, guard=self.guard)

    def value(self, sub: Any, ctx: MetricContext | None = None) -> Any:
        """One fact's converted amount, exact, or (read) an error naming it when it cannot be converted."""
        terms = zip((sub.c[c] for c in self.columns), MONEY_SCALES, strict=True)
        return exact_terms(*terms, guard=sub.c.get(self.guard), refused=refusal(ctx))

    def evidence(self, facts: FactsBuilder, order: tuple[str, ...] = (), extra: tuple[str, ...] = ()) -> Any:
        """Evidence rows ``(person_id, record_id, value)`` with the original amount, currency, rate and its day
        and the facts' ``extra`` columns (what per-record formulas read), by person, then the facts' ``order``
        columns, then record id."""

        def evidence(ctx: MetricContext) -> Any:
            sub = facts(ctx).subquery("money_facts")
            return select(
                sub.c.person_id,
                sub.c.record_id,
                self.value(sub, ctx).label("value"),
                sub.c[self._in("original")].label("original_amount"),
                sub.c[self._in("currency")].label("original_currency"),
                sub.c[self._in("rate")].label("rate"),
                sub.c[self._in("rate_day")].label("rate_day"),
                *(sub.c[c] for c in extra),
            ).order_by(sub.c.person_id, *(sub.c[c] for c in order), sub.c.record_id)

        return evidence


def _cast_raw(column: Any) -> Any:
    return type_coerce(column, BigInteger())


def type_coerce_exact(column: Any, scale: int) -> Any:
    return type_coerce(column, ExactDecimal(scale))
