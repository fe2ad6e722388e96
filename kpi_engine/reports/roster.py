"""Who is in the reports: people as of the period (team, manager, role, hire date) and the teams' names.

Team and manager are read as of the period's last day from the organisation over time, so a person
who moved teams in the month shows in the team they ended it in.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select

from ..engine.organisation import load_organisation
from ..periods import Period
from ..store import schema as s
from ..store.database import Store

__all__ = ["Member", "Roster", "load_roster", "page_name"]

_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def page_name(identifier: str) -> str:
    """A file name for a person's or team's page: the id when it is plain, else a digest of it.

    Ids come from CRMs and files: ``../x`` or ``<b>`` must never become a path or markup.
    """
    if _SAFE.fullmatch(identifier) and ".." not in identifier:
        return identifier
    return "x" + hashlib.sha256(identifier.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Member:
    """A person as the reports show them."""

    id: str
    name: str
    role: str | None
    team_id: str | None
    team_name: str | None
    manager_id: str | None
    hire_date: date | None
    email: str | None

    @property
    def page(self) -> str:
        return page_name(self.id)

    def is_new(self, on: date, days: int = 90) -> bool:
        """Hired within ``days`` of ``on`` (a newcomer, as the best-newcomer award counts them)."""
        return self.hire_date is not None and on - self.hire_date <= timedelta(days=days)


@dataclass(frozen=True)
class Roster:
    """Everyone known, with their team and manager as of the period, and the teams' names."""

    people: dict[str, Member]
    teams: dict[str, str]

    def name(self, person_id: str) -> str:
        member = self.people.get(person_id)
        return member.name if member else person_id

    def managers(self) -> list[Member]:
        """People who manage someone, by name."""
        ids = {m.manager_id for m in self.people.values() if m.manager_id}
        return sorted((self.people[i] for i in ids if i in self.people), key=lambda m: (m.name, m.id))

    def reports_of(self, manager_id: str) -> list[Member]:
        return sorted((m for m in self.people.values() if m.manager_id == manager_id), key=lambda m: (m.name, m.id))


def load_roster(store: Store, period: Period) -> Roster:
    """People and teams, each person's team and manager as of the period's last day."""
    last_day = period.end - timedelta(days=1)
    p, t = s.people, s.teams
    with store.connect() as conn:
        org = load_organisation(conn)
        rows = conn.execute(
            select(p.c.id, p.c.name, p.c.role, p.c.team_id, p.c.manager_id, p.c.hire_date, p.c.email)
        ).all()
        teams = dict(conn.execute(select(t.c.id, t.c.name)).all())
    people: dict[str, Member] = {}
    for pid, name, role, team_id, manager_id, hire_date, email in rows:
        assignment = org.assignment(pid, last_day)
        if assignment is not None:
            team_id, manager_id, role = assignment.team_id, assignment.manager_id, assignment.role
        people[pid] = Member(
            id=pid,
            name=name,
            role=role,
            team_id=team_id,
            team_name=teams.get(team_id) if team_id else None,
            manager_id=manager_id,
            hire_date=hire_date,
            email=email,
        )
    return Roster(people=people, teams=teams)
