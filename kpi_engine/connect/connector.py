"""The connector SDK: what a CRM connector declares and does, in Airbyte/Singer vocabulary.

A connector is a subclass of ``Connector`` with

- ``name`` (``hubspot``), a ``settings_model`` (a ``ConnectorSettings`` subclass; secrets typed
  ``SecretStr`` and declared with ``secret_field``, read from ``$KPI_<NAME>_<FIELD>`` or a keyring);
- ``streams()``: the ``Stream`` objects it can read, each with its primary key, cursor field,
  whether it reports deletes and the entity it fills (``Entity``: people, customers, deals,
  deal_splits, deal_stage_history, leads, activities, payments, refunds, marketing_spend);
- ``check()``: one cheap authenticated call that proves the settings work;
- ``read(stream, state)``: yields ``Record`` objects and, after each page, a ``Checkpoint`` with
  the position of the next page. The sync engine commits the page's rows and that position
  in one transaction, so a read killed anywhere resumes without losing or duplicating rows.

``mapping_file`` names the YAML field mapping shipped with the connector (stages → open/won/lost,
custom fields, currency, owners → people); operators may replace it with their own.

Connectors register through the ``kpi_connectors`` hook::

    @hookimpl
    def kpi_connectors():
        yield AcmeConnector
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, SecretStr

from .errors import ConnectorConfigurationError
from .http import Auth, Classifier, Clock, HttpClient, RetryPolicy, SystemClock, TokenBucket
from .secrets import (
    ConnectorSettings,
    MemoryTokenStore,
    TokenStore,
    connector_logger,
    is_secret_field,
    load_settings,
    register_secret,
)

__all__ = [
    "ENTITY_ORDER",
    "KEYED_BY_DEAL",
    "Checkpoint",
    "Connector",
    "DealCovered",
    "Entity",
    "ConnectorContext",
    "Record",
    "Stream",
    "StreamState",
    "settings_schema",
]

Entity = Literal[
    "people",
    "customers",
    "deals",
    "deal_splits",
    "deal_stage_history",
    "leads",
    "activities",
    "payments",
    "refunds",
    "marketing_spend",
]
ENTITY_ORDER: tuple[str, ...] = (
    "people",
    "customers",
    "deals",
    "deal_splits",
    "deal_stage_history",
    "leads",
    "activities",
    "payments",
    "refunds",
    "marketing_spend",
)
"""The order streams are synced in: what a record names comes first. Owners before the customers and
deals they own, deals before their splits, stage history, activities, payments and refunds; marketing
spend names its owner only."""
KEYED_BY_DEAL: frozenset[str] = frozenset({"deal_splits", "deal_stage_history"})
"""Entities stored by their natural key (a deal and a person, a deal and an instant), without a remote
id: a tombstone removes the stored row, and a deleted record that names no deal cannot be found."""


class Stream(BaseModel):
    """A collection a connector reads (Singer's stream, Airbyte's stream).

    ``cursor_field`` is the remote field that grows when a record changes (None: the stream is
    read whole every time); ``cursor_format`` says how to read it (ISO 8601 text, epoch
    milliseconds or seconds); ``reports_deletes`` says deleted records arrive as tombstones.
    ``complete_read`` says every read returns every live record (an API without a cursor or a feed of
    deletions): after a read that ran start to finish in one sync, stored records of the stream's
    entity from this source that it did not return are tombstoned. Only one stream of a connector
    may fill an entity it reads completely.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    entity: Entity
    primary_key: str = "id"
    cursor_field: str | None = None
    cursor_format: Literal["iso8601", "epoch_ms", "epoch_s"] = "iso8601"
    reports_deletes: bool = False
    complete_read: bool = False
    description: str = ""


@dataclass(slots=True)
class Record:
    """One remote record of a stream: its fields as the CRM sent them (flattened to one level).

    ``deleted`` marks a tombstone (archived, soft-deleted, or reported by a deleted-records call).
    """

    stream: str
    data: dict[str, Any]
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class DealCovered:
    """Every current record of this deal was yielded before it (in the same page): rows of the deal that
    did not come are gone in the CRM and are removed from the store.

    For streams of entities kept by deal (``KEYED_BY_DEAL``: splits) when the CRM answers with a deal's
    whole set (HubSpot's deal splits batch read, Salesforce's splits of an opportunity): a split whose
    owner changed, or that was removed, leaves no stale row behind.
    """

    stream: str
    deal_remote_id: str


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The end of a page: everything yielded before it may be committed with ``position``.

    ``position`` is what the connector needs to resume with the next page (an ``after`` token,
    an offset, a next link, a phase name); None when the read is complete.
    """

    stream: str
    position: dict[str, Any] | None = None


@dataclass(frozen=True)
class StreamState:
    """What a read starts from: the sync engine builds it from the saved state of the stream.

    ``since``: read records whose cursor is at or after this instant (None: read everything);
    it is the saved cursor minus the lookback window, or the operator's ``--since``.
    ``cursor``/``tie_breaker_id``: the high-water mark of the last complete read.
    ``position``: where an interrupted read stopped (from its last committed checkpoint).
    ``fields``: remote fields the field mapping uses; request at least these.
    """

    stream: str
    since: datetime | None = None
    cursor: datetime | None = None
    tie_breaker_id: str | None = None
    position: dict[str, Any] | None = None
    fields: frozenset[str] = frozenset()

    @property
    def full(self) -> bool:
        """Whether this read must return every record (no cursor to start from)."""
        return self.since is None


@dataclass
class ConnectorContext:
    """What a connector gets from its host: time, token storage and HTTP policy (tests inject fakes)."""

    clock: Clock = field(default_factory=SystemClock)
    token_store: TokenStore = field(default_factory=MemoryTokenStore)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    draw: Callable[[], float] = random.random
    pacing: bool = True


class Connector(ABC):
    """Base class of every connector. Subclass it, declare the class attributes, implement three methods."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    settings_model: ClassVar[type[ConnectorSettings]]
    mapping_file: ClassVar[Path | None] = None
    documentation: ClassVar[str] = ""
    unsupported: ClassVar[dict[str, str]] = {}
    """Entities the CRM has no object for, and why (``kpi connectors list`` shows them): say so rather
    than invent one, e.g. ``{"deal_splits": "Fxiaoke's open API has no credit-split object"}``."""

    def __init__(self, settings: ConnectorSettings, *, context: ConnectorContext | None = None) -> None:
        if not isinstance(settings, self.settings_model):
            raise ConnectorConfigurationError(
                f"{self.name} needs settings of type {self.settings_model.__name__}, not {type(settings).__name__}."
            )
        self.settings = settings
        for value in settings.__dict__.values():  # settings built in code are redacted too
            if isinstance(value, SecretStr):
                register_secret(value)
        self.context = context or ConnectorContext()
        self.log = connector_logger(self.name)
        self._clients: list[HttpClient] = []

    @classmethod
    def from_env(
        cls,
        values: Mapping[str, Any] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        context: ConnectorContext | None = None,
        use_keyring: bool = True,
    ) -> Connector:
        """Build the connector from ``values``, then ``$KPI_<NAME>_<FIELD>`` variables, then the keyring."""
        settings = load_settings(cls.settings_model, cls.name, values, environ=environ, use_keyring=use_keyring)
        return cls(settings, context=context)

    # --- what a connector implements ------------------------------------------------

    @abstractmethod
    def streams(self) -> list[Stream]:
        """The streams this connector reads."""

    @abstractmethod
    def check(self) -> str:
        """Make one cheap authenticated call; return what was checked, raise a connector error if it fails."""

    @abstractmethod
    def read(self, stream: Stream, state: StreamState) -> Iterator[Record | DealCovered | Checkpoint]:
        """Yield the stream's records since ``state.since``, with a ``Checkpoint`` after each page
        (and, for a deal's complete set of splits, a ``DealCovered`` after them)."""

    # --- helpers --------------------------------------------------------------------

    def stream(self, name: str) -> Stream:
        """The stream called ``name``; an unknown name raises ``ConnectorConfigurationError``."""
        for candidate in self.streams():
            if candidate.name == name:
                return candidate
        known = ", ".join(s.name for s in self.streams())
        raise ConnectorConfigurationError(f"{self.name} has no stream {name!r}.", hint=f"its streams are: {known}")

    def http_client(
        self,
        base_url: str,
        *,
        auth: Auth | None = None,
        classify: Classifier | None = None,
        observe: Callable[[Any], None] | None = None,
        rate_limit: tuple[int, float] | None = None,  # float ok: (calls, seconds)
        headers: Mapping[str, str] | None = None,
    ) -> HttpClient:
        """An ``HttpClient`` wired to this connector's context (clock, retry policy, pacing).

        ``rate_limit`` is the CRM's published budget as (calls, seconds): the client paces itself
        to stay under it.
        """
        pacer = None
        if rate_limit is not None and self.context.pacing:
            pacer = TokenBucket(rate_limit[0], rate_limit[1], clock=self.context.clock)
        client = HttpClient(
            base_url,
            auth=auth,
            retry=self.context.retry,
            pacer=pacer,
            classify=classify,
            observe=observe,
            clock=self.context.clock,
            headers={"User-Agent": f"kpi-engine-{self.name}", **(headers or {})},
            draw=self.context.draw,
            name=self.name,
        )
        self._clients.append(client)
        return client

    def close(self) -> None:
        """Release HTTP sessions."""
        for client in self._clients:
            client.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def settings_schema(connector: type[Connector]) -> list[dict[str, Any]]:
    """The settings of a connector as rows: name, variable, secret, required, description."""
    from .secrets import env_name

    rows = []
    for name, info in connector.settings_model.model_fields.items():
        rows.append(
            {
                "name": name,
                "variable": env_name(connector.name, name),
                "secret": is_secret_field(connector.settings_model, name),
                "required": info.is_required(),
                "description": info.description or "",
            }
        )
    return rows
