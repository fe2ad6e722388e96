"""The sync engine: cursors with a lookback and a tie-break, pages committed with their position,
idempotent upserts, tombstones, records skipped with their reason, and the run log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from kpi_engine import (
    Checkpoint,
    Connector,
    ConnectorConfigurationError,
    ConnectorSettings,
    Record,
    SourceMapping,
    Stream,
    StreamState,
    parse_cursor,
    schema,
    secret_field,
    sync,
)
from kpi_engine.connect.sync import load_sync_state
from kpi_engine.testing import SimulatedCrash

UTC = UTC
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class ToySettings(ConnectorSettings):
    token: SecretStr = secret_field("token")


class Toy(Connector):
    """An in-memory CRM: deals sorted by (updated, id), pages of ``page`` records, ``>=`` filtering."""

    name = "toy"
    settings_model = ToySettings
    page = 3

    def __init__(
        self, users: list[dict[str, Any]], deals: list[dict[str, Any]], deleted_ids: list[str] | None = None
    ) -> None:
        super().__init__(ToySettings(token=SecretStr("toy-token")))
        self.users, self.deals, self.deleted_ids = users, deals, deleted_ids or []
        self.asked: list[StreamState] = []

    def streams(self) -> list[Stream]:
        return [
            Stream(name="users", entity="people"),
            Stream(name="deals", entity="deals", cursor_field="updated", reports_deletes=True),
            Stream(name="deleted", entity="deals", cursor_field="when", reports_deletes=True),
        ]

    def check(self) -> str:
        return "ok"

    def read(self, stream: Stream, state: StreamState) -> Iterator[Record | Checkpoint]:
        self.asked.append(state)
        if stream.name == "users":
            yield from (Record("users", u) for u in self.users)
            yield Checkpoint("users")
            return
        if stream.name == "deleted":
            yield from (Record("deleted", {"id": i, "when": T0.isoformat()}, deleted=True) for i in self.deleted_ids)
            yield Checkpoint("deleted")
            return
        rows = sorted(self.deals, key=lambda d: (parse_cursor(d["updated"]), int(d["id"])))
        if state.since is not None:
            rows = [d for d in rows if parse_cursor(d["updated"]) >= state.since]
        start = (state.position or {}).get("at", 0)
        for at in range(start, len(rows), self.page):
            for row in rows[at : at + self.page]:
                yield Record("deals", dict(row), deleted=bool(row.get("gone")))
            following = at + self.page
            yield Checkpoint("deals", {"at": following} if following < len(rows) else None)


MAPPING = SourceMapping.model_validate(
    {
        "person_id": "toy-{remote_id}",
        "streams": {
            "users": {"fields": {"name": "name"}, "defaults": {"role": "sales_rep"}},
            "deals": {
                "fields": {
                    "amount": "amount",
                    "stage_raw": "stage",
                    "owner_id": "owner",
                    "modified_at": "updated",
                    "closed_at": "closed",
                    "product_line": "x_product",
                },
                "stage_map": {"Won": "won", "Lost": "lost", "Open": "open"},
                "defaults": {"currency": "EUR"},
            },
        },
    }
)


def deal(i: int, updated: datetime, **extra: Any) -> dict[str, Any]:
    return {"id": str(i), "amount": f"{i}00.50", "stage": "Won", "owner": "u1", "updated": updated.isoformat(), **extra}


USERS = [{"id": "u1", "name": "Ana"}, {"id": "u2", "name": "Bo"}]


def stored(store, **where: Any) -> dict[str, Any]:
    d = schema.deals.c
    with store.connect() as conn:
        rows = conn.execute(select(schema.deals).where(d.source == "toy", *[d[k] == v for k, v in where.items()])).all()
    return {r.remote_id: r for r in rows}


def run(store, toy: Toy, **options: Any):
    options.setdefault("batch_size", 1)
    return sync(store, toy, mapping=MAPPING, streams=["users", "deals"], **options)


def test_records_sharing_a_time_stamp_across_a_page_boundary_are_all_kept(store):
    same = T0 + timedelta(hours=1)
    toy = Toy(USERS, [deal(1, T0), *(deal(i, same) for i in range(2, 7))])  # pages of 3 split the five ties
    summary = run(store, toy)
    assert sorted(stored(store), key=int) == ["1", "2", "3", "4", "5", "6"]
    assert next(s for s in summary.streams if s.stream == "deals").cursor == same.isoformat()
    state = _state(store, "deals")
    assert (state["cursor"], state["tie_breaker_id"]) == (same.isoformat(), "6"), (
        "the high-water mark is (time stamp, id)"
    )


def _state(store, stream: str) -> dict[str, Any]:
    with store.connect() as conn:
        return load_sync_state(conn, "toy", stream)


def test_a_record_arriving_later_with_the_cursors_time_stamp_is_not_skipped(store):
    same = T0 + timedelta(hours=1)
    toy = Toy(USERS, [deal(1, same), deal(2, same)])
    run(store, toy)
    toy.deals.append(deal(3, same))  # committed in the CRM after our read, with the same modified time
    again = run(store, toy)
    assert "3" in stored(store)
    assert again.total("inserted") == 1 and again.total("updated") == 0


def test_the_lookback_window_re_reads_late_commits_and_only_those(store):
    toy = Toy(USERS, [deal(1, T0 + timedelta(hours=2))])
    run(store, toy, lookback=timedelta(minutes=10))
    toy.deals.append(deal(2, T0 + timedelta(hours=2, minutes=-5)))  # late commit inside the window
    toy.deals.append(deal(3, T0 + timedelta(hours=1)))  # older than the window: left for a full sync
    run(store, toy, lookback=timedelta(minutes=10))
    assert toy.asked[-1].since == T0 + timedelta(hours=2, minutes=-10)
    assert set(stored(store)) == {"1", "2"}
    run(store, toy, full=True)
    assert set(stored(store)) == {"1", "2", "3"}


def test_an_incremental_sync_right_after_changes_nothing(store):
    toy = Toy(USERS, [deal(i, T0 + timedelta(minutes=i)) for i in range(1, 8)])
    run(store, toy)
    again = run(store, toy)
    assert (again.total("inserted"), again.total("updated"), again.total("deleted")) == (0, 0, 0)
    assert again.total("unchanged") == again.total("read")


def test_a_crash_before_a_commit_keeps_the_previous_page_and_its_position(store):
    toy = Toy(USERS, [deal(i, T0 + timedelta(minutes=i)) for i in range(1, 11)])

    def crash(stream: str, commit: int) -> None:
        if stream == "deals" and commit == 3:
            raise SimulatedCrash("killed")

    with pytest.raises(SimulatedCrash):
        run(store, toy, batch_size=3, before_commit=crash)
    assert sorted(stored(store), key=int) == ["1", "2", "3", "4", "5", "6"], (
        "two pages committed, the third rolled back"
    )
    assert _state(store, "deals")["pending"]["position"] == {"at": 6}, "the position was committed with its rows"
    resumed = run(store, toy, batch_size=3)
    assert toy.asked[-1].position == {"at": 6}, "the next sync resumes at the first uncommitted page"
    assert next(s for s in resumed.streams if s.stream == "deals").read == 4
    assert sorted(stored(store), key=int) == [str(i) for i in range(1, 11)]
    assert "pending" not in _state(store, "deals")


def test_a_deal_whose_owner_is_unknown_is_skipped_with_the_reason(store):
    toy = Toy(USERS, [deal(1, T0), deal(2, T0, owner="u9"), deal(3, T0, amount="1234;5678")])
    summary = run(store, toy)
    assert set(stored(store)) == {"1"}
    # HubSpot declares numbers that hold "1234;5678" (docs/connectors/hubspot.md): skipped, not a crash
    assert summary.skipped_reasons == {
        "deals: owner u9 is not a known person": 1,
        "deals: amount: '1234;5678' is not a number": 1,
    }


def test_owners_map_to_existing_people_through_the_mapping(store):
    from kpi_engine import PersonRecord, upsert_records

    with store.begin() as conn:
        upsert_records(conn, "people", "manual", [PersonRecord(id="E1001", name="Ana Novak", role="sales_rep")])
    mapping = MAPPING.model_copy(update={"owners": {"u7": "E1001"}})
    toy = Toy([{"id": "u7", "name": "ana.novak (CRM login)"}], [deal(1, T0, owner="u7")])
    sync(store, toy, mapping=mapping, streams=["users", "deals"])
    assert stored(store)["1"].owner_id == "E1001"
    with store.connect() as conn:
        person = conn.execute(select(schema.people).where(schema.people.c.id == "E1001")).one()
    assert (person.name, person.source) == ("Ana Novak", "manual"), "HR's person is linked, never overwritten"


def test_mapped_fields_custom_fields_currency_and_stage_become_the_common_schema(store):
    toy = Toy(USERS, [deal(1, T0, x_product="Cloud", closed="2026-03-31T23:30:00+08:00", stage="Lost")])
    run(store, toy)
    row = stored(store)["1"]
    assert (row.amount, row.currency, row.status, row.product_line, row.owner_id) == (
        Decimal("100.50"),
        "EUR",
        "lost",
        "Cloud",
        "toy-u1",
    )
    assert row.closed_at == datetime(2026, 3, 31, 15, 30, tzinfo=UTC), "offsets are normalised to UTC"


def test_deleted_records_become_tombstones_and_stay(store):
    toy = Toy(USERS, [deal(1, T0), deal(2, T0)])
    run(store, toy)
    toy.deals[1] = deal(2, T0 + timedelta(hours=1), gone=True)
    summary = run(store, toy)
    row = stored(store)["2"]
    assert row.is_deleted and row.deleted_at is not None
    assert summary.total("deleted") == 1
    assert run(store, toy).total("deleted") == 0, "a tombstone is counted once"


def test_a_deletion_reported_by_id_only_marks_the_stored_row(store):
    toy = Toy(USERS, [deal(1, T0), deal(2, T0)], deleted_ids=["2", "99"])
    run(store, toy)
    summary = sync(store, toy, mapping=MAPPING, streams=["deleted"])
    assert stored(store)["2"].is_deleted and not stored(store)["1"].is_deleted
    assert summary.total("deleted") == 1
    assert summary.skipped_reasons == {"deleted: deleted before it was synced": 1}


def test_since_reads_from_the_given_time_instead_of_the_saved_cursor(store):
    toy = Toy(USERS, [deal(i, T0 + timedelta(days=i)) for i in range(1, 5)])
    run(store, toy)
    run(store, toy, since=T0 + timedelta(days=2))
    assert toy.asked[-1].since == T0 + timedelta(days=2)
    with pytest.raises(ConnectorConfigurationError):
        run(store, toy, since=datetime(2026, 1, 1))


def test_the_cursor_never_moves_past_the_start_of_the_read(store):
    future = datetime.now(UTC) + timedelta(days=3)  # a record stamped ahead of our clock (skew)
    toy = Toy(USERS, [deal(1, future)])
    run(store, toy)
    assert parse_cursor(_state(store, "deals")["cursor"]) < future


def test_a_mapping_naming_an_unknown_field_is_refused_before_reading(store):
    bad = SourceMapping.model_validate({"streams": {"deals": {"fields": {"amout": "amount"}}}})
    toy = Toy(USERS, [deal(1, T0)])
    with pytest.raises(ConnectorConfigurationError, match="'amout'"):
        sync(store, toy, mapping=bad)
    assert toy.asked == []


def test_every_run_is_logged_with_its_counts_and_status(store):
    toy = Toy(USERS, [deal(1, T0), deal(2, T0, owner="nobody")])
    summary = run(store, toy)
    with store.connect() as conn:
        row = conn.execute(select(schema.sync_runs).where(schema.sync_runs.c.id == summary.run_id)).one()
    assert (row.status, row.records_read, row.inserted, row.skipped) == ("succeeded", 4, 3, 1)
    assert row.summary["streams"][1]["skipped_reasons"] == {"owner nobody is not a known person": 1}


def test_a_failed_run_is_logged_and_its_error_raised(store):
    class Broken(Toy):
        def read(self, stream, state):
            yield Record("deals", deal(1, T0))
            raise RuntimeError("lost connection with toy-token inside")

    with pytest.raises(RuntimeError):
        sync(store, Broken(USERS, []), mapping=MAPPING, streams=["deals"])
    with store.connect() as conn:
        row = conn.execute(select(schema.sync_runs).order_by(schema.sync_runs.c.id.desc())).first()
    assert row.status == "failed" and "toy-token" not in row.error


@pytest.mark.parametrize(
    ("text", "fmt", "expected"),
    [
        ("2013-05-20T20:49:32.000+0000", "iso8601", datetime(2013, 5, 20, 20, 49, 32, tzinfo=UTC)),  # Salesforce
        ("2024-04-01T10:00:00.123Z", "iso8601", datetime(2024, 4, 1, 10, 0, 0, 123000, tzinfo=UTC)),  # HubSpot
        ("2018-10-25T11:56:25+05:30", "iso8601", datetime(2018, 10, 25, 6, 26, 25, tzinfo=UTC)),  # Zoho
        (1735300000000, "epoch_ms", datetime(2024, 12, 27, 11, 46, 40, tzinfo=UTC)),  # Fxiaoke
        ("2025-01-05 09:00:00", "iso8601", datetime(2025, 1, 5, 9, 0, tzinfo=UTC)),  # Pipedrive v1, naive UTC
    ],
)
def test_cursor_values_in_each_crms_format_read_as_utc(text, fmt, expected):
    assert parse_cursor(text, fmt) == expected
