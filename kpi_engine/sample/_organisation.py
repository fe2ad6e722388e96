"""Organisation and customers of the sample company: teams, people, assignments, customer books."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta

from ._calendar import shanghai
from ._company import Company, Customer, Person
from ._names import CITIES, COMPANY_WORDS, GIVEN_NAMES, INDUSTRIES, SEGMENTS, SURNAMES

__all__ = ["add_customer", "build_customers", "build_organisation"]

ROOT_TEAM = "hq"
_TEAMS = (
    # id, name, region, headcount of the team's main role
    ("east", "华东销售部 East Sales", "East", 9),
    ("north", "华北销售部 North Sales", "North", 8),
    ("south", "华南销售部 South Sales", "South", 8),
    ("marketing", "市场部 Marketing", "National", 4),
    ("success", "客户成功部 Customer Success", "National", 4),
)
_TEAM_ROLE = {"marketing": "marketing_specialist", "success": "customer_success"}
_CUSTOMERS_PER_REP = 16


def build_organisation(company: Company) -> None:
    """Teams under a company root, one manager per team, reps, specialists and customer-success staff.

    One rep joins mid-year, one leaves mid-year and one moves from East to North.
    """
    rng = company.rng("organisation")
    ws = company.window_start
    since = date(ws.year - 3, 1, 1)
    company.add_row("teams", {"id": ROOT_TEAM, "name": "总部 Headquarters", "region": "China", "parent_team_id": None})
    company.add_row(
        "team_hierarchy", {"team_id": ROOT_TEAM, "parent_team_id": None, "valid_from": since, "valid_to": None}
    )
    for team_id, name, region, _ in _TEAMS:
        company.add_row("teams", {"id": team_id, "name": name, "region": region, "parent_team_id": ROOT_TEAM})
        company.add_row(
            "team_hierarchy", {"team_id": team_id, "parent_team_id": ROOT_TEAM, "valid_from": since, "valid_to": None}
        )
    names = _name_pool(rng)
    number = 1001
    managers: dict[str, str] = {}
    for team_id, _, region, _ in _TEAMS:
        person = Person(f"E{number}", next(names), "manager", team_id, region, None, _hire_date(rng, ws), skill=1.0)
        company.people[person.id] = person
        managers[team_id] = person.id
        number += 1
    for team_id, _, region, headcount in _TEAMS:
        role = _TEAM_ROLE.get(team_id, "sales_rep")
        for _ in range(headcount):
            person = Person(
                f"E{number}",
                next(names),
                role,
                team_id,
                region,
                managers[team_id],
                _hire_date(rng, ws),
                skill=rng.uniform(0.7, 1.3),
            )
            company.people[person.id] = person
            number += 1
    _plan_career_moves(company, managers)


def _plan_career_moves(company: Company, managers: dict[str, str]) -> None:
    """A joiner (South), a leaver (North, book passes to a colleague) and a mover (East to North)."""
    months = company.months
    mid = months[len(months) // 2]
    south = [p for p in company.of_role("sales_rep") if p.team == "south"]
    north = [p for p in company.of_role("sales_rep") if p.team == "north"]
    east = [p for p in company.of_role("sales_rep") if p.team == "east"]
    joiner = south[-1]
    joiner.hire = mid.start - timedelta(days=30) + timedelta(days=14)
    joiner.skill = 0.8
    leaver = north[-1]
    leaver.leave = months[len(months) // 2 + 1].start + timedelta(days=9)
    company.successor[leaver.id] = north[0].id
    mover = east[-1]
    move_day = mid.start
    for person in company.people.values():
        if person is mover:
            company.add_row(
                "org_assignments",
                {
                    "person_id": person.id,
                    "team_id": "east",
                    "manager_id": managers["east"],
                    "role": person.role,
                    "region": "East",
                    "valid_from": person.hire,
                    "valid_to": move_day,
                },
            )
            person.team, person.region, person.manager = "north", "North", managers["north"]
            company.add_row(
                "org_assignments",
                {
                    "person_id": person.id,
                    "team_id": "north",
                    "manager_id": managers["north"],
                    "role": person.role,
                    "region": "North",
                    "valid_from": move_day,
                    "valid_to": None,
                },
            )
        else:
            company.add_row(
                "org_assignments",
                {
                    "person_id": person.id,
                    "team_id": person.team,
                    "manager_id": person.manager,
                    "role": person.role,
                    "region": person.region,
                    "valid_from": person.hire,
                    "valid_to": person.leave,
                },
            )
    company.mover = mover.id
    for person in company.people.values():
        company.add_row(
            "people",
            {
                "id": person.id,
                "source": "demo",
                "remote_id": f"HR-{person.id[1:]}",
                "name": person.name,
                "email": f"{person.name.lower().replace(' ', '.')}@example.cn",
                "role": person.role,
                "team_id": person.team,
                "manager_id": person.manager,
                "region": person.region,
                "hire_date": person.hire,
                "leave_date": person.leave,
                "modified_at": shanghai(max(person.hire, person.leave or person.hire), 10),
            },
        )


def _name_pool(rng: random.Random) -> Iterator[str]:
    """Unique pinyin names (surname first, as written in China), drawn without repeats."""
    pool = [f"{s} {g}" for s in SURNAMES for g in GIVEN_NAMES]
    rng.shuffle(pool)
    return iter(pool)


def _hire_date(rng: random.Random, window_start: date) -> date:
    return window_start - timedelta(days=rng.randint(90, 6 * 365))


def build_customers(company: Company) -> None:
    """About sixteen accounts per rep in the rep's region; most existed before the year, some are new."""
    rng = company.rng("customers")
    ws, we = company.window_start, company.window_end
    success = company.of_role("customer_success")
    for rep in company.of_role("sales_rep"):
        region = "East" if rep.id == company.mover else rep.region
        count = _CUSTOMERS_PER_REP if rep.hire < ws else _CUSTOMERS_PER_REP // 2
        for _ in range(count):
            if rep.hire >= ws:
                created = rep.hire + timedelta(days=rng.randint(0, max(1, (we - rep.hire).days - 60)))
            elif rng.random() < 0.75:
                created = ws - timedelta(days=rng.randint(30, 4 * 365))
            else:
                created = ws + timedelta(days=rng.randint(0, (we - ws).days - 60))
            add_customer(company, rng, rep, region, created, success)


def add_customer(
    company: Company, rng: random.Random, rep: Person, region: str, created: date, success: list[Person]
) -> Customer:
    """Open a customer account owned by a rep, with a customer-success contact."""
    industry = rng.choice(sorted(INDUSTRIES))
    name = _company_name(rng, region, industry, company.customer_names)
    segment = rng.choices([s for s, _ in SEGMENTS], weights=[w for _, w in SEGMENTS])[0]
    customer_id = company.next_id("customers")
    customer = Customer(
        customer_id, name, segment, industry, region, rep.id, success[customer_id % len(success)].id, created
    )
    company.customers[customer_id] = customer
    rep.book.append(customer_id)
    company.rows["customers"].append(
        {
            "id": customer_id,
            "source": "demo",
            "remote_id": company.remote_id("customers"),
            "modified_at": shanghai(created, 11),
            "is_deleted": False,
            "name": name,
            "segment": segment,
            "industry": industry,
            "region": region,
            "owner_id": company.owner_on(customer, company.window_end - timedelta(days=1)).id,
            "created_at": shanghai(created, rng.randint(9, 17), rng.randint(0, 59)),
        }
    )
    return customer


def _company_name(rng: random.Random, region: str, industry: str, used: set[str]) -> str:
    while True:
        name = f"{rng.choice(CITIES[region])} {rng.choice(COMPANY_WORDS)} {INDUSTRIES[industry]} Co., Ltd."
        if name not in used:
            used.add(name)
            return name
