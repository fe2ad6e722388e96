"""The connector SDK: what an integrator needs to write a CRM connector, in one namespace.

A connector declares its settings (secrets marked), checks a connection, declares streams with a
primary key and a cursor, and reads records with checkpoints (the vocabulary of Airbyte's CDK and
the Singer SDK). ``sync`` loads what it reads into the store. Everything here is also exported by
``kpi_engine`` itself; see docs/connectors.md for the guide.

The modules: ``connector`` (Connector, Stream, Record, Checkpoint), ``auth`` (tokens, OAuth 2
refresh), ``http`` (the client: retries, pacing, error classes), ``paging`` (page walkers),
``errors``, ``secrets`` (settings, secret fields, token stores, log redaction), ``mapping`` (CRM
fields to the common schema), ``sync`` (incremental, resumable loading), ``scaffold`` (``kpi
connectors new``).
"""

from .auth import BearerToken, HeaderToken, OAuth2Refresh
from .connector import (
    ENTITY_ORDER,
    Checkpoint,
    Connector,
    ConnectorContext,
    DealCovered,
    Entity,
    Record,
    Stream,
    StreamState,
)
from .errors import (
    AuthenticationError,
    ConnectorConfigurationError,
    ConnectorError,
    RateLimited,
    StreamUnavailable,
    TransientError,
)
from .http import HttpClient, RetryPolicy, SystemClock, TokenBucket, default_classify, parse_retry_after
from .mapping import SourceMapping, StreamMapping, load_source_mapping
from .paging import Page, cursor_pages, dig, next_link_pages, offset_pages, page_token_pages
from .secrets import (
    ConnectorSettings,
    MemoryTokenStore,
    StoreTokenStore,
    TokenStore,
    connector_logger,
    default_token_store,
    install_log_redaction,
    redact,
    register_secret,
    secret_field,
)
from .sync import StreamSummary, SyncSummary, parse_cursor, sync

__all__ = [
    "AuthenticationError",
    "BearerToken",
    "Checkpoint",
    "Connector",
    "ConnectorConfigurationError",
    "ConnectorContext",
    "ConnectorError",
    "ConnectorSettings",
    "DealCovered",
    "ENTITY_ORDER",
    "Entity",
    "HeaderToken",
    "HttpClient",
    "MemoryTokenStore",
    "OAuth2Refresh",
    "Page",
    "RateLimited",
    "Record",
    "RetryPolicy",
    "SourceMapping",
    "StoreTokenStore",
    "Stream",
    "StreamMapping",
    "StreamState",
    "StreamSummary",
    "StreamUnavailable",
    "SyncSummary",
    "SystemClock",
    "TokenBucket",
    "TokenStore",
    "TransientError",
    "connector_logger",
    "cursor_pages",
    "default_classify",
    "default_token_store",
    "dig",
    "install_log_redaction",
    "load_source_mapping",
    "next_link_pages",
    "offset_pages",
    "page_token_pages",
    "parse_cursor",
    "parse_retry_after",
    "redact",
    "register_secret",
    "secret_field",
    "sync",
]
