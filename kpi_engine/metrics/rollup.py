"""Roll-ups along the organisation as it was: who belonged to which team and region on each day.

A period is cut where any assignment or team-hierarchy change falls inside it; in each piece the
organisation is constant, so a fact is credited to the team its person belonged to on that piece
(someone who moved team in June counts for the old team before and the new one after). A team's
figure includes its sub-teams' (the hierarchy as it was), and distinct counts stay distinct because
the facts of every piece are aggregated together, once.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    and_,
    column,
    false,
    literal,
    or_,
    select,
    text,
    union_all,
    values,
)

from ..periods import Period
from ..store import schema as s
from .measures import FactsBuilder, Keyed

__all__ = ["ORG_GROUPINGS", "members_on", "org_keyed", "org_segments"]

ORG_GROUPINGS = ("team", "region", "company")


def _valid_on(table: Any, day: date) -> Any:
    return and_(table.c.valid_from <= day, or_(table.c.valid_to.is_(None), table.c.valid_to > day))


def org_segments(conn: Connection, period: Period) -> list[tuple[date, date]]:
    """``[start, end)`` day ranges of the period within which nobody's team or region changes."""
    cuts = {period.start, period.end}
    for table in (s.org_assignments, s.team_hierarchy):
        for column_ in (table.c.valid_from, table.c.valid_to):
            rows = conn.execute(select(column_).where(column_ > period.start, column_ < period.end).distinct())
            cuts.update(day for (day,) in rows if day is not None)
    ordered = sorted(cuts)
    return list(pairwise(ordered))


def members_on(conn: Connection, day: date, by: str) -> list[tuple[str, str]]:
    """``(person, group)`` pairs on a day: team and every team above it, or region, or the company."""
    assigned: dict[str, tuple[str | None, str | None]] = {}
    oa = s.org_assignments
    for person, team, region in conn.execute(
        select(oa.c.person_id, oa.c.team_id, oa.c.region).where(_valid_on(oa, day)).order_by(oa.c.valid_from, oa.c.id)
    ):
        assigned[person] = (team, region)
    team_regions = dict(conn.execute(select(s.teams.c.id, s.teams.c.region)).all())
    for person, team, region in conn.execute(select(s.people.c.id, s.people.c.team_id, s.people.c.region)):
        assigned.setdefault(person, (team, region))
    if by == "company":
        return [(person, "company") for person in sorted(assigned)]
    if by == "region":
        return [
            (p, region or team_regions.get(team) or "")
            for p, (team, region) in sorted(assigned.items())
            if region or team_regions.get(team)
        ]
    parents: dict[str, str | None] = dict(conn.execute(select(s.teams.c.id, s.teams.c.parent_team_id)).all())
    th = s.team_hierarchy
    for team, parent in conn.execute(
        select(th.c.team_id, th.c.parent_team_id).where(_valid_on(th, day)).order_by(th.c.valid_from, th.c.id)
    ):
        parents[team] = parent
    pairs: list[tuple[str, str]] = []
    for person, (team, _) in sorted(assigned.items()):
        seen: set[str] = set()
        while team is not None and team not in seen:
            seen.add(team)
            pairs.append((person, team))
            team = parents.get(team)
    return pairs


def _members_table(conn: Connection, pairs: list[tuple[str, str]], piece: int) -> Any:
    """``(person_id, group_key)`` rows as an inline table (SQLite names VALUES columns column1, column2)."""
    if conn.dialect.name != "sqlite":
        return values(column("person_id", String()), column("group_key", String()), name="members").data(pairs)
    rows = ", ".join(f"(:m{piece}p{i}, :m{piece}g{i})" for i in range(len(pairs)))  # names unique across pieces
    params = {k: v for i, (p, g) in enumerate(pairs) for k, v in ((f"m{piece}p{i}", p), (f"m{piece}g{i}", g))}
    query = text(f"SELECT column1 AS person_id, column2 AS group_key FROM (VALUES {rows})").bindparams(**params)
    return query.columns(column("person_id", String()), column("group_key", String())).subquery("members")


def org_keyed(conn: Connection, by: str, time_zone: str) -> Keyed:
    """A grouping for ``grouped_values``: facts of each constant piece joined to that piece's membership."""

    def keyed(facts: FactsBuilder, ctx: Any) -> Any:
        parts = []
        for index, (start, end) in enumerate(org_segments(conn, ctx.period)):
            last = end - timedelta(days=1)
            piece = Period(start, end, f"{start.isoformat()}..{last.isoformat()}", "range")
            lo, hi = piece.bounds_utc(time_zone)
            sub = facts(replace(ctx, period=piece, start=lo, end=hi)).subquery()
            pairs = members_on(conn, start, by)
            if pairs:
                members = _members_table(conn, pairs, index)
            else:
                members = (
                    select(literal("", String()).label("person_id"), literal("", String()).label("group_key"))
                    .where(false())
                    .subquery()
                )
            parts.append(select(sub, members.c.group_key).join(members, members.c.person_id == sub.c.person_id))
        both = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("facts")
        return both, both.c.group_key

    return keyed
