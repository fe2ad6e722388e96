"""What can go wrong when a connector talks to a CRM, as errors a sync can act on.

KPIError
 ├── ConfigurationError
 │    └── ConnectorConfigurationError   a connector setting is missing or wrong (fix and re-run)
 └── ConnectorError                     the CRM answered with something the sync cannot get past
      ├── AuthenticationError           credentials refused or expired (``expired``: a refresh may help)
      ├── RateLimited                   over a rate limit (``retry_after`` seconds, ``scope``: burst/daily/...)
      └── TransientError                a timeout, a dropped connection or a 5xx: retrying may help

Every message is passed through the secret redactor before it is stored on the error.
"""

from __future__ import annotations

from typing import Literal

from ..errors import ConfigurationError, KPIError
from .secrets import redact

__all__ = [
    "AuthenticationError",
    "ConnectorConfigurationError",
    "ConnectorError",
    "RateLimitScope",
    "RateLimited",
    "StreamUnavailable",
    "TransientError",
]

RateLimitScope = Literal["burst", "secondly", "daily", "concurrency"]


class ConnectorConfigurationError(ConfigurationError):
    """A connector setting is missing or wrong; the message names the setting, never its value."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(redact(message), hint=redact(hint) if hint else None)


class ConnectorError(KPIError):
    """The CRM answered with an error the sync cannot get past; ``status`` is the HTTP status if any."""

    def __init__(self, message: str, *, hint: str | None = None, status: int | None = None) -> None:
        super().__init__(redact(message), hint=redact(hint) if hint else None)
        self.status = status


class AuthenticationError(ConnectorError):
    """The CRM refused the credentials; ``expired`` says a token refresh may fix it."""

    def __init__(
        self, message: str, *, hint: str | None = None, status: int | None = None, expired: bool = False
    ) -> None:
        super().__init__(message, hint=hint, status=status)
        self.expired = expired


class RateLimited(ConnectorError):
    """Over a rate limit: wait ``retry_after`` seconds (None: unknown) before the next call.

    ``scope`` says which budget ran out: ``burst`` (a rolling window of seconds), ``secondly``,
    ``concurrency`` (too many calls at once) or ``daily`` (the day's allocation: waiting a few
    seconds does not help, the sync stops and resumes on the next run).
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,  # float ok: seconds to wait
        scope: RateLimitScope = "burst",
        hint: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message, hint=hint, status=status)
        self.retry_after = retry_after
        self.scope = scope


class TransientError(ConnectorError):
    """A timeout, dropped connection or server error (5xx): the same call may succeed later."""


class StreamUnavailable(ConnectorError):
    """The CRM has no such data for this account: an object not enabled, a feature not bought.

    Raised by ``read`` before it yields anything (Salesforce without Opportunity Splits, HubSpot without
    Commerce Hub payments). The sync records the reason in the stream's summary (``unavailable``),
    stores nothing for that stream and goes on with the others: an account without deal splits still
    syncs its deals.
    """
