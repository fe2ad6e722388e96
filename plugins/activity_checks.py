"""Anti-gaming checks on activities and leads (docs/catalogue.md §6): fake visits, inflated activity, leads
entered without a source, brushed traffic.

Each check is a rule type whose settings subclass ``CheckConfig``: the plan switches it on, sets its
thresholds (the defaults below are documented in docs/anti-gaming.md) and declares its effect. A check
returns only finding lines; each names the records behind it. The database does the counting: a check
first reads per-person metric values of the period and loads evidence rows only when someone crosses
its thresholds (``traffic_brushing`` reads the period's lead captures, the candidate rows, once).

- ``unverified_activity``: visits and meetings logged without evidence (no check-in, signed page or photo)
  above a count and a share of the person's visits and meetings.
- ``leads_without_channel``: leads a marketing owner entered with no source channel, above a count and a share.
- ``activity_inflation``: far more visits than the team's median, with deals won per visit far below the team's.
- ``traffic_brushing``: a burst of leads from one channel and campaign within a few hours that (almost) never
  went on to MQL, SQL or a deal, by the leads' marketing owner.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from statistics import median
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BeforeValidator, Field
from sqlalchemy import BigInteger, Select, case, literal, select

from kpi_engine import (
    CheckConfig,
    Finding,
    Measure,
    Metric,
    MetricContext,
    RuleContext,
    RuleResult,
    RuleType,
    Severity,
    fact_metric,
    hookimpl,
    schema,
    to_decimal,
    within,
)

from ._support import percent, periods_back, shown

__all__ = [
    "ActivityInflation",
    "LeadsWithoutChannel",
    "TrafficBrushing",
    "UnverifiedActivity",
    "evaluate_brushing",
    "evaluate_inflation",
    "evaluate_leads_without_channel",
    "evaluate_unverified",
    "kpi_metrics",
    "kpi_rule_types",
]

SOURCE = "docs/catalogue.md §6 (anti-gaming: seeds 002, 003, 004)"
ZERO = Decimal(0)
activities = schema.activities
leads = schema.leads

Share = Annotated[Decimal, BeforeValidator(to_decimal), Field(ge=0, le=1)]
"""A share from 0 to 1 (``0.3`` or ``30%``)."""
Factor = Annotated[Decimal, BeforeValidator(to_decimal), Field(gt=0)]


# --- evidence metrics -----------------------------------------------------------------------


def _field_activities(*, unverified: bool) -> Any:
    def facts(ctx: MetricContext) -> Select[Any]:
        conditions = [
            activities.c.is_deleted.is_(False),
            within(activities.c.occurred_at, ctx),
            activities.c.kind.in_(("visit", "meeting")),
        ]
        if unverified:
            conditions.append(activities.c.has_evidence.is_(False))
        return select(activities.c.owner_id.label("person_id"), activities.c.id.label("record_id")).where(*conditions)

    return facts


def _leads_without_channel(ctx: MetricContext) -> Select[Any]:
    return select(leads.c.marketing_owner_id.label("person_id"), leads.c.id.label("record_id")).where(
        leads.c.is_deleted.is_(False),
        within(leads.c.created_at, ctx),
        leads.c.channel.is_(None),
        leads.c.marketing_owner_id.is_not(None),
    )


def _captures(ctx: MetricContext) -> Select[Any]:
    return select(leads.c.marketing_owner_id.label("person_id"), leads.c.id.label("record_id")).where(
        leads.c.is_deleted.is_(False), within(leads.c.created_at, ctx), leads.c.marketing_owner_id.is_not(None)
    )


def lead_capture_records(ctx: MetricContext) -> Select[Any]:
    """Each lead captured in the period with its capture time, channel, campaign and whether it went on."""
    went_on = case(
        ((leads.c.mql_at.is_not(None)) | (leads.c.sql_at.is_not(None)) | (leads.c.converted_deal_id.is_not(None)), 1),
        else_=0,
    )
    return (
        select(
            leads.c.marketing_owner_id.label("person_id"),
            leads.c.id.label("record_id"),
            literal(1, BigInteger()).label("value"),
            leads.c.created_at,
            leads.c.channel,
            leads.c.campaign,
            went_on.label("went_on"),
        )
        .where(leads.c.is_deleted.is_(False), within(leads.c.created_at, ctx), leads.c.marketing_owner_id.is_not(None))
        .order_by(leads.c.marketing_owner_id, leads.c.created_at, leads.c.id)
    )


@hookimpl
def kpi_metrics() -> list[Metric]:
    return [
        fact_metric(
            "visits_and_meetings",
            "Customer visits and meetings logged (the field activities a check-in, signed page or photo can prove).",
            "count",
            Measure(_field_activities(unverified=False), "count"),
            evidence_table="activities",
            source=SOURCE,
        ),
        fact_metric(
            "unverified_visits",
            "Visits and meetings logged without evidence: no check-in, signed page or photo (虚假拜访 risk).",
            "count",
            Measure(_field_activities(unverified=True), "count"),
            evidence_table="activities",
            source=SOURCE,
        ),
        fact_metric(
            "unattributed_leads",
            "Leads captured in the period with no source channel recorded, by marketing owner.",
            "count",
            Measure(_leads_without_channel, "count"),
            evidence_table="leads",
            source=SOURCE,
        ),
        fact_metric(
            "lead_captures",
            "Leads captured in the period by marketing owner; the evidence rows carry capture time, channel, campaign "
            "and whether the lead went on to MQL, SQL or a deal.",
            "count",
            Measure(_captures, "count"),
            evidence=lead_capture_records,
            evidence_table="leads",
            source=SOURCE,
        ),
    ]


# --- shared helpers -------------------------------------------------------------------------


def _grade(excess: Decimal) -> Severity:
    """How far past its thresholds a finding is: twice or more is high, a quarter more is medium."""
    if excess >= 2:
        return "high"
    if excess >= Decimal("1.25"):
        return "medium"
    return "low"


def _value(ctx: RuleContext, metric: str, person: str) -> Decimal:
    found = ctx.values.get(metric, {}).get(person)
    return ZERO if found is None else Decimal(found)


def _ids_of(ctx: RuleContext, metric: str, person: str) -> tuple[int, ...]:
    return tuple(sorted(int(row["record_id"]) for row in ctx.record_details(metric).get(person, ())))


def _ratio(part: Decimal, whole: Decimal) -> Decimal:
    return part / whole if whole else ZERO


def _last_day(ctx: RuleContext) -> date:
    return ctx.period.end - timedelta(days=1)


def _moment(value: Any) -> datetime:
    """A stored time as an aware UTC datetime (stored times are UTC; plan tests may write ISO text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    elif not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _local(moment: datetime, time_zone: str) -> str:
    return moment.astimezone(ZoneInfo(time_zone)).strftime("%Y-%m-%d %H:%M")


def _count(value: Decimal) -> str:
    return shown(value)


# --- unverified_activity --------------------------------------------------------------------


class UnverifiedActivity(CheckConfig):
    """Settings of ``unverified_activity``: a finding needs both the count and the share."""

    min_count: int = Field(default=8, ge=1)  # unverified visits and meetings in the period
    min_share: Share = Decimal("0.3")  # of the person's visits and meetings in the period
    lookback: int = Field(default=3, ge=1, le=24)  # earlier periods the person's own share is taken from
    min_history: int = Field(default=2, ge=1, le=24)  # earlier periods with visits needed to know the person's usual
    margin: Share = Decimal("0.15")  # with history: the share at least this far above the person's usual share
    without_history_share: Share | None = None  # without history: the share the absolute rule needs (None: min_share)
    logged_metric: str = "visits_and_meetings"
    unverified_metric: str = "unverified_visits"


def _own_share(ctx: RuleContext, part: str, whole: str, person: str, lookback: int) -> tuple[Decimal, Decimal, int]:
    """The person's ``part`` and ``whole`` over the ``lookback`` periods before, and how many had any ``whole``."""
    inside = total = ZERO
    periods = 0
    for earlier in periods_back(ctx.period, lookback):
        logged = Decimal(ctx.values_in(whole, earlier).get(person) or 0)
        if not logged:
            continue
        periods += 1
        total += logged
        inside += Decimal(ctx.values_in(part, earlier).get(person) or 0)
    return inside, total, periods


def evaluate_unverified(ctx: RuleContext, config: UnverifiedActivity) -> list[RuleResult]:
    """A process finding: visits kept without evidence. Judged against the person's own usual share when there is
    enough history (a habit is not a spike), else on the plan's absolute rule."""
    found: list[RuleResult] = []
    for person in ctx.people:
        unverified = _value(ctx, config.unverified_metric, person)
        logged = max(_value(ctx, config.logged_metric, person), unverified)
        share = _ratio(unverified, logged)
        if unverified < config.min_count or not logged or share < config.min_share:
            continue
        was, was_logged, periods = _own_share(
            ctx, config.unverified_metric, config.logged_metric, person, config.lookback
        )
        if periods >= config.min_history:
            usual = was / was_logged
            if share < usual + config.margin:
                continue  # the person's habit, not a change this period
            compared = (
                f"against {percent(usual.quantize(Decimal('0.0001')))} usually ({periods} periods before); the plan "
                f"looks at {config.min_count} or more, {percent(config.min_share)} or more and "
                f"{percent(config.margin)} above the person's usual"
            )
        else:
            absolute = config.without_history_share if config.without_history_share is not None else config.min_share
            if share < absolute:
                continue
            usual = None
            compared = (
                f"with no usual share to compare ({periods} earlier periods with visits, fewer than "
                f"{config.min_history}); the plan's rule without history is {config.min_count} or more and "
                f"{percent(absolute)} or more"
            )
        excess = min(unverified / config.min_count, share / config.min_share if config.min_share else Decimal(2))
        sentence = (
            f"{_count(unverified)} of {_count(logged)} visits and meetings logged in {ctx.period.label} "
            f"({percent(share.quantize(Decimal('0.0001')))}) have no check-in, signed page or photo, {compared}."
        )
        finding = Finding(
            check="unverified_activity",
            person_id=person,
            period=ctx.period.label,
            severity=_grade(excess),
            explanation=sentence,
            evidence={"activities": _ids_of(ctx, config.unverified_metric, person)},
            figures={
                "unverified": _count(unverified),
                "logged": _count(logged),
                "share": percent(share.quantize(Decimal("0.0001"))),
                "usual_share": "no history" if usual is None else percent(usual.quantize(Decimal("0.0001"))),
                "min_count": str(config.min_count),
                "min_share": percent(config.min_share),
            },
            category="process",
        )
        found.append(finding.as_result(config))
    return found


# --- leads_without_channel ------------------------------------------------------------------


class LeadsWithoutChannel(CheckConfig):
    """Settings of ``leads_without_channel``: a finding needs both the count and the share."""

    min_count: int = Field(default=10, ge=1)  # leads without a source channel in the period
    min_share: Share = Decimal("0.05")  # of the leads the person captured in the period
    captured_metric: str = "leads_created"
    missing_metric: str = "unattributed_leads"


def evaluate_leads_without_channel(ctx: RuleContext, config: LeadsWithoutChannel) -> list[RuleResult]:
    found: list[RuleResult] = []
    for person in ctx.people:
        missing = _value(ctx, config.missing_metric, person)
        captured = max(_value(ctx, config.captured_metric, person), missing)
        share = _ratio(missing, captured)
        if missing < config.min_count or not captured or share < config.min_share:
            continue
        excess = min(missing / config.min_count, share / config.min_share if config.min_share else Decimal(2))
        shown_share = percent(share.quantize(Decimal("0.0001")))
        sentence = (
            f"{_count(missing)} of the {_count(captured)} leads captured in {ctx.period.label} ({shown_share}) have no "
            f"source channel, so their cost and conversion cannot be traced; the plan looks at {config.min_count} or "
            f"more and {percent(config.min_share)} or more."
        )
        finding = Finding(
            category="process",
            check="leads_without_channel",
            person_id=person,
            period=ctx.period.label,
            severity=_grade(excess),
            explanation=sentence,
            evidence={"leads": _ids_of(ctx, config.missing_metric, person)},
            figures={
                "without_channel": _count(missing),
                "captured": _count(captured),
                "share": shown_share,
                "min_count": str(config.min_count),
                "min_share": percent(config.min_share),
            },
        )
        found.append(finding.as_result(config))
    return found


# --- activity_inflation ---------------------------------------------------------------------


class ActivityInflation(CheckConfig):
    """Settings of ``activity_inflation``: many more visits than the team, converting far worse than the team."""

    min_visits: int = Field(default=20, ge=1)  # visits in the period before the check looks at all
    visits_factor: Factor = Decimal("2.5")  # visits at least this many times the team's median
    conversion_factor: Share = Decimal("0.5")  # deals won per visit at most this share of the team's
    min_team: int = Field(default=3, ge=1)  # teammates (same role, with visits) needed for a norm
    lookback: int = Field(default=3, ge=1, le=24)  # earlier periods the person's own usual visits are taken from
    min_history: int = Field(default=1, ge=1, le=24)  # earlier periods with visits needed to know the person's usual
    own_factor: Factor = Decimal("1.5")  # with history: visits at least this many times the person's own usual
    without_history_factor: Factor | None = None  # without history: the team factor needed (None: visits_factor)
    visits_metric: str = "visits"
    won_metric: str = "won_deals"


def _roster(ctx: RuleContext) -> dict[str | None, list[str]]:
    """The people in scope by team as of the period (``people_info``), each team sorted."""
    teams: dict[str | None, list[str]] = {}
    for member in sorted(ctx.people):
        other = ctx.people_info.get(member)
        if other is not None:
            teams.setdefault(other.team_id, []).append(member)
    return teams


def _teammates(ctx: RuleContext, person: str, roster: dict[str | None, list[str]] | None = None) -> list[str]:
    """The person's teammates of the same role as of the period (``people_info``; the person excluded)."""
    info = ctx.people_info.get(person)
    team = info.team_id if info is not None else None
    if team is None and ctx.org is not None:
        team = ctx.org.team_of(person, _last_day(ctx))
    if team is None:
        return []
    role = info.role if info is not None else None
    members = (roster if roster is not None else _roster(ctx)).get(team, [])
    return [m for m in members if m != person and (role is None or ctx.people_info[m].role == role)]


def evaluate_inflation(ctx: RuleContext, config: ActivityInflation) -> list[RuleResult]:
    found: list[RuleResult] = []
    roster = _roster(ctx)
    for person in ctx.people:
        visits = _value(ctx, config.visits_metric, person)
        if visits < config.min_visits:
            continue
        mates = [m for m in _teammates(ctx, person, roster) if _value(ctx, config.visits_metric, m) > 0]
        if len(mates) < config.min_team:
            continue
        norm = Decimal(median(_value(ctx, config.visits_metric, m) for m in mates))
        if visits < config.visits_factor * norm:
            continue
        earlier = [
            Decimal(v)
            for p in periods_back(ctx.period, config.lookback)
            if (v := ctx.values_in(config.visits_metric, p).get(person))
        ]
        own = sum(earlier, ZERO) / len(earlier) if len(earlier) >= config.min_history else None
        if own is not None and visits < config.own_factor * own:
            continue  # the person always visits this much: a way of working, not a change this period
        if own is None and visits < (config.without_history_factor or config.visits_factor) * norm:
            continue
        team_visits = sum((_value(ctx, config.visits_metric, m) for m in mates), ZERO)
        team_won = sum((_value(ctx, config.won_metric, m) for m in mates), ZERO)
        if not team_won:
            continue  # a team that won nothing gives no conversion to fall short of
        team_rate = team_won / team_visits
        won = _value(ctx, config.won_metric, person)
        rate = won / visits
        if rate > config.conversion_factor * team_rate:
            continue
        visits_excess = visits / (config.visits_factor * norm) if norm else Decimal(2)
        rate_excess = (config.conversion_factor * team_rate) / rate if rate else Decimal(2)
        q = Decimal("0.01")
        sentence = (
            f"{_count(visits)} visits logged in {ctx.period.label} against a median of {_count(norm)} among "
            f"{len(mates)} teammates ({(visits / norm).quantize(q) if norm else 'no'} times), yet {_count(won)} deals "
            f"won: {(rate * 100).quantize(q)} per 100 visits against the team's {(team_rate * 100).quantize(q)}; the "
            f"plan looks at {shown(config.visits_factor)} times the median and at most "
            f"{percent(config.conversion_factor)} of the team's conversion"
            + (
                f", and {shown(config.own_factor)} times the person's own usual ({shown(own.quantize(q))} visits "
                f"over {len(earlier)} periods before)."
                if own is not None
                else f"; the person has no usual to compare ({len(earlier)} earlier periods with visits)."
            )
        )
        finding = Finding(
            check="activity_inflation",
            person_id=person,
            period=ctx.period.label,
            severity=_grade(min(visits_excess, rate_excess)),
            explanation=sentence,
            evidence={"activities": _ids_of(ctx, config.visits_metric, person)},
            figures={
                "visits": _count(visits),
                "team_median_visits": _count(norm),
                "teammates": str(len(mates)),
                "won": _count(won),
                "won_per_100_visits": shown((rate * 100).quantize(q)),
                "team_won_per_100_visits": shown((team_rate * 100).quantize(q)),
                "usual_visits": "no history" if own is None else shown(own.quantize(q)),
            },
        )
        found.append(finding.as_result(config))
    return found


# --- traffic_brushing -----------------------------------------------------------------------


class TrafficBrushing(CheckConfig):
    """Settings of ``traffic_brushing``.

    A burst is ``min_leads`` or more from one channel and campaign within ``window_hours``.
    """

    min_leads: int = Field(default=50, ge=2)
    window_hours: int = Field(default=3, ge=1, le=72)
    max_went_on_share: Share = Decimal("0.05")  # at most this share of the burst reached MQL, SQL or a deal
    captures_metric: str = "lead_captures"


def _bursts(rows: Sequence[Mapping[str, Any]], min_leads: int, window: timedelta) -> list[list[Mapping[str, Any]]]:
    """Runs of rows (sorted by time) where ``min_leads`` or more fall within ``window``; overlapping runs are merged."""
    times = [_moment(r["created_at"]) for r in rows]
    spans: list[list[int]] = []
    left = 0
    for right, moment in enumerate(times):
        while moment - times[left] > window:
            left += 1
        if right - left + 1 >= min_leads:
            if spans and left <= spans[-1][1]:
                spans[-1][1] = right
            else:
                spans.append([left, right])
    # A window at the edge of a burst may reach an ordinary lead outside it: ends further than a quarter
    # of the window from their neighbour are not part of the burst.
    gap = window / 4
    bursts = []
    for a, b in spans:
        while b - a + 1 > min_leads and times[a + 1] - times[a] > gap:
            a += 1
        while b - a + 1 > min_leads and times[b] - times[b - 1] > gap:
            b -= 1
        bursts.append(list(rows[a : b + 1]))
    return bursts


def evaluate_brushing(ctx: RuleContext, config: TrafficBrushing) -> list[RuleResult]:
    found: list[RuleResult] = []
    candidates = [p for p in ctx.people if _value(ctx, config.captures_metric, p) >= config.min_leads]
    if not candidates:
        return found
    rows_of = ctx.record_details(config.captures_metric)
    window = timedelta(hours=config.window_hours)
    for person in candidates:
        sources: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
        for row in rows_of.get(person, ()):
            sources.setdefault((row.get("channel") or "", row.get("campaign") or ""), []).append(row)
        for (channel, campaign), rows in sorted(sources.items()):
            rows.sort(key=lambda r: (_moment(r["created_at"]), int(r["record_id"])))
            for burst in _bursts(rows, config.min_leads, window):
                went_on = sum(1 for r in burst if int(r.get("went_on") or 0))
                share = Decimal(went_on) / len(burst)
                if share > config.max_went_on_share:
                    continue
                first, last = _moment(burst[0]["created_at"]), _moment(burst[-1]["created_at"])
                source = (
                    f"campaign '{campaign}' ({channel or 'no channel'})"
                    if campaign
                    else f"channel '{channel or 'none'}' without a campaign"
                )
                outcome = (
                    "none went on to MQL, SQL or a deal"
                    if not went_on
                    else f"only {went_on} went on to MQL, SQL or a deal"
                )
                sentence = (
                    f"{len(burst)} leads from {source} arrived between {_local(first, ctx.time_zone)} and "
                    f"{_local(last, ctx.time_zone)} ({ctx.time_zone}) and {outcome}, a sign of brushed traffic (刷量); "
                    f"the plan looks at {config.min_leads} or more within {config.window_hours} hours with at most "
                    f"{percent(config.max_went_on_share)} going on."
                )
                finding = Finding(
                    check="traffic_brushing",
                    person_id=person,
                    period=ctx.period.label,
                    severity=_grade(Decimal(len(burst)) / config.min_leads),
                    explanation=sentence,
                    evidence={"leads": tuple(sorted(int(r["record_id"]) for r in burst))},
                    figures={
                        "leads": str(len(burst)),
                        "channel": channel,
                        "campaign": campaign,
                        "went_on": str(went_on),
                        "from": _local(first, ctx.time_zone),
                        "to": _local(last, ctx.time_zone),
                    },
                )
                found.append(finding.as_result(config))
    return found


@hookimpl
def kpi_rule_types() -> list[RuleType[Any]]:
    return [
        RuleType(
            name="unverified_activity",
            description="Finds visits and meetings logged without evidence, above a count and a share of the person's.",
            config_model=UnverifiedActivity,
            metrics=lambda cfg: {cfg.logged_metric, cfg.unverified_metric},
            evaluate=evaluate_unverified,
        ),
        RuleType(
            name="leads_without_channel",
            description="Finds leads a marketing owner captured with no source channel, above a count and a share.",
            config_model=LeadsWithoutChannel,
            metrics=lambda cfg: {cfg.captured_metric, cfg.missing_metric},
            evaluate=evaluate_leads_without_channel,
        ),
        RuleType(
            name="activity_inflation",
            description="Finds visit counts far above the team's median with deals won per visit far below the team's.",
            config_model=ActivityInflation,
            metrics=lambda cfg: {cfg.visits_metric, cfg.won_metric},
            evaluate=evaluate_inflation,
        ),
        RuleType(
            name="traffic_brushing",
            description="Finds bursts of leads from one channel and campaign within a few hours that never went on.",
            config_model=TrafficBrushing,
            metrics=lambda cfg: {cfg.captures_metric},
            evaluate=evaluate_brushing,
        ),
    ]
