"""The organisation over time: who was in which team, under which manager, on a given day.

Built from ``org_assignments`` and ``team_hierarchy`` (valid ``[from, to)``), falling back to the
``people`` row for anyone without an assignment; plan tests build it from a case's people.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta

from sqlalchemy import Connection, select

from ..periods import Period
from ..store import schema as s
from .contract import PersonInfo

__all__ = ["Assignment", "Organisation", "TeamLink", "load_organisation"]

_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Assignment:
    """A person's team, manager and role from ``valid_from`` (inclusive) to ``valid_to`` (exclusive)."""

    person_id: str
    team_id: str | None
    manager_id: str | None
    role: str
    valid_from: date
    valid_to: date | None = None

    def holds_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)


@dataclass(frozen=True)
class TeamLink:
    """A team's parent team over a span of days."""

    team_id: str
    parent_team_id: str | None
    valid_from: date
    valid_to: date | None = None

    def holds_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)


class Organisation:
    """An ``OrgView``: people (as in the ``people`` table), their assignments over time and the team tree."""

    def __init__(
        self,
        people: Iterable[PersonInfo],
        assignments: Iterable[Assignment] = (),
        links: Iterable[TeamLink] = (),
        parents: dict[str, str | None] | None = None,
    ) -> None:
        self.people = {p.id: p for p in people}
        self.assignments: dict[str, list[Assignment]] = {}
        for a in sorted(assignments, key=lambda a: (a.person_id, a.valid_from)):
            self.assignments.setdefault(a.person_id, []).append(a)
        self.links: dict[str, list[TeamLink]] = {}
        for link in links:
            self.links.setdefault(link.team_id, []).append(link)
        self.parents = parents or {}  # teams.parent_team_id, when team_hierarchy says nothing
        self._roster_cache: dict[date, tuple[dict[str, list[str]], dict[str, list[str]]]] = {}

    # --- one person ------------------------------------------------------------------

    def assignment(self, person: str, day: date) -> Assignment | None:
        for found in self.assignments.get(person, ()):
            if found.holds_on(day):
                return found
        return None

    def team_of(self, person: str, day: date) -> str | None:
        found = self.assignment(person, day)
        if found is not None:
            return found.team_id
        info = self.people.get(person)
        return info.team_id if info and not self.assignments.get(person) else None

    def manager_of(self, person: str, day: date) -> str | None:
        found = self.assignment(person, day)
        if found is not None:
            return found.manager_id
        info = self.people.get(person)
        return info.manager_id if info and not self.assignments.get(person) else None

    def managers_above(self, person: str, day: date) -> list[str]:
        chain: list[str] = []
        current = self.manager_of(person, day)
        while current and current not in chain and current != person:
            chain.append(current)
            current = self.manager_of(current, day)
        return chain

    def parent_team(self, team: str, day: date) -> str | None:
        links = self.links.get(team)
        if links:
            return next((link.parent_team_id for link in links if link.holds_on(day)), None)
        return self.parents.get(team)

    def teams_above(self, team: str, day: date) -> list[str]:
        """The team itself, then its parent, up to the top."""
        chain = [team]
        current = self.parent_team(team, day)
        while current and current not in chain:
            chain.append(current)
            current = self.parent_team(current, day)
        return chain

    def members(self, team: str, day: date, *, with_subteams: bool = True) -> list[str]:
        """People employed in ``team`` on ``day`` (and in its sub-teams), sorted; the roster of a day is built once."""
        own, within = self._rosters(day)
        return list((within if with_subteams else own).get(team, ()))

    def _rosters(self, day: date) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        """For one day: each team's own people, and its people with those of every team below it."""
        if day not in self._roster_cache:
            own: dict[str, list[str]] = {}
            within: dict[str, list[str]] = {}
            for person in sorted(self.people):
                team = self.team_of(person, day)
                if team is None or not self.employed_on(person, day):
                    continue
                own.setdefault(team, []).append(person)
                for above in self.teams_above(team, day):
                    within.setdefault(above, []).append(person)
            self._roster_cache[day] = (own, within)
        return self._roster_cache[day]

    def employed_on(self, person: str, day: date) -> bool:
        info = self.people.get(person)
        if info is None:
            return False
        return (info.hire_date is None or info.hire_date <= day) and (info.leave_date is None or day < info.leave_date)

    # --- the period ------------------------------------------------------------------

    def day_in(self, person: str, period: Period) -> date | None:
        """The day a person is seen as of in a period: its last day, or their last day employed in it."""
        info = self.people.get(person)
        last = period.end - _ONE_DAY
        if info is not None and info.leave_date is not None:
            last = min(last, info.leave_date - timedelta(days=1))
        first = period.start if info is None or info.hire_date is None else max(period.start, info.hire_date)
        return last if first <= last else None

    def as_of(self, person: str, period: Period, day: date | None = None) -> PersonInfo | None:
        """The person as of the period (``None`` when not employed on any day of it); ``day``: their ``day_in`` it."""
        info = self.people.get(person)
        day = day or self.day_in(person, period)
        if info is None or day is None:
            return None
        found = self.assignment(person, day)
        if found is None or (found.role, found.team_id, found.manager_id) == (info.role, info.team_id, info.manager_id):
            return info
        return replace(info, role=found.role, team_id=found.team_id, manager_id=found.manager_id)

    def in_period(self, period: Period) -> dict[str, PersonInfo]:
        """Everyone employed on at least one day of the period, as of the period."""
        return {person: info for person, (info, _day) in self.in_period_with_days(period).items()}

    def in_period_with_days(self, period: Period) -> dict[str, tuple[PersonInfo, date]]:
        """``in_period`` with the day each person is seen as of (``day_in``), sorted by person."""
        found: dict[str, tuple[PersonInfo, date]] = {}
        for person in sorted(self.people):
            day = self.day_in(person, period)
            if day is not None and (info := self.as_of(person, period, day)) is not None:
                found[person] = (info, day)
        return found


def load_organisation(conn: Connection) -> Organisation:
    """The whole organisation from the database (small tables, read once per evaluation)."""
    p, oa, th, t = s.people, s.org_assignments, s.team_hierarchy, s.teams
    people = [
        PersonInfo(
            id=r.id,
            name=r.name,
            role=r.role,
            team_id=r.team_id,
            manager_id=r.manager_id,
            hire_date=r.hire_date,
            leave_date=r.leave_date,
        )
        for r in conn.execute(
            select(p.c.id, p.c.name, p.c.role, p.c.team_id, p.c.manager_id, p.c.hire_date, p.c.leave_date)
        )
    ]
    assignments = [
        Assignment(r.person_id, r.team_id, r.manager_id, r.role, r.valid_from, r.valid_to)
        for r in conn.execute(
            select(oa.c.person_id, oa.c.team_id, oa.c.manager_id, oa.c.role, oa.c.valid_from, oa.c.valid_to)
        )
    ]
    links = [
        TeamLink(r.team_id, r.parent_team_id, r.valid_from, r.valid_to)
        for r in conn.execute(select(th.c.team_id, th.c.parent_team_id, th.c.valid_from, th.c.valid_to))
    ]
    parents = {r.id: r.parent_team_id for r in conn.execute(select(t.c.id, t.c.parent_team_id))}
    return Organisation(people, assignments, links, parents)
