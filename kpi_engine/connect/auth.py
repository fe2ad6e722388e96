"""Credentials on requests: static tokens and OAuth 2 tokens refreshed once at a time.

``OAuth2Refresh`` holds an access token and a refresh token. When calls fail because the
token expired, the first one to ask takes a lock and refreshes; the others find the token
already replaced and simply retry, so concurrent 401s cause one refresh. The new tokens are
saved in a ``TokenStore`` (keyring or database) and registered with the redactor.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

import requests
from pydantic import SecretStr

from .errors import AuthenticationError, TransientError
from .secrets import MemoryTokenStore, TokenStore, clean_secret, redact, register_secret

__all__ = ["BearerToken", "HeaderToken", "OAuth2Refresh"]

log = logging.getLogger("kpi_engine.http")


def _plain(value: str | SecretStr) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


class HeaderToken:
    """A static token in a header of your choice (``x-api-token: …``); cannot be refreshed."""

    can_refresh = False

    def __init__(self, token: str | SecretStr, header: str, prefix: str = "") -> None:
        register_secret(_plain(token))
        self._token = clean_secret(_plain(token), f"token for the {header} header")
        self.header = header
        self.prefix = prefix

    def apply(self, headers: dict[str, str]) -> str | None:
        headers[self.header] = f"{self.prefix}{self._token}"
        return self._token

    def refresh(self, stale: str | None) -> None:
        raise AuthenticationError("the token cannot be refreshed.", hint="replace it and run again")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(header={self.header!r}, token='***')"


class BearerToken(HeaderToken):
    """``Authorization: Bearer <token>``: private-app tokens, API keys, pre-issued OAuth tokens."""

    def __init__(self, token: str | SecretStr) -> None:
        super().__init__(token, "Authorization", "Bearer ")


class OAuth2Refresh:
    """OAuth 2 refresh-token grant: ``Authorization: Bearer <access>``, refreshed on expiry.

    ``token_key`` names the saved tokens in ``store`` (e.g. ``hubspot:<client id>``); a saved
    access token is reused on the next run, and a rotated refresh token replaces the old one.
    ``request_token`` may be replaced for CRMs whose token endpoint is not the standard form POST.
    """

    can_refresh = True

    def __init__(
        self,
        token_url: str,
        *,
        client_id: str,
        client_secret: str | SecretStr,
        refresh_token: str | SecretStr,
        access_token: str | SecretStr | None = None,
        store: TokenStore | None = None,
        token_key: str | None = None,
        extra: Mapping[str, str] | None = None,
        session: requests.Session | None = None,
        request_token: Callable[[Mapping[str, str]], Mapping[str, Any]] | None = None,
        timeout: float = 30.0,  # float ok: seconds
    ) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = _plain(client_secret)
        self._refresh_token = _plain(refresh_token)
        self.store = store or MemoryTokenStore()
        self.token_key = token_key or f"oauth:{client_id}"
        self.extra = dict(extra or {})
        self.session = session or requests.Session()
        self.request_token = request_token or self._post_form
        self.timeout = timeout
        self.refreshes = 0
        self._lock = threading.Lock()
        for secret in (self._client_secret, self._refresh_token):
            register_secret(secret)
        self._client_secret = clean_secret(self._client_secret, "OAuth client secret")
        self._refresh_token = clean_secret(self._refresh_token, "OAuth refresh token")
        saved = self.store.load(self.token_key) or {}
        if access_token:
            register_secret(_plain(access_token))
            self._access: str | None = clean_secret(_plain(access_token), "OAuth access token")
        else:
            self._access = saved.get("access_token")
        if saved.get("refresh_token"):
            self._refresh_token = saved["refresh_token"]
        register_secret(self._access)
        register_secret(self._refresh_token)

    def apply(self, headers: dict[str, str]) -> str | None:
        with self._lock:
            if self._access is None:
                self._refresh_locked()
            token = self._access
        headers["Authorization"] = f"Bearer {token}"
        return token

    def refresh(self, stale: str | None) -> None:
        with self._lock:
            if self._access is not None and self._access != stale:
                return  # another call refreshed it meanwhile
            self._refresh_locked()

    def _post_form(self, form: Mapping[str, str]) -> Mapping[str, Any]:
        try:
            response = self.session.post(self.token_url, data=dict(form), timeout=self.timeout)
        except requests.RequestException as exc:
            raise TransientError(f"cannot reach the token endpoint: {type(exc).__name__}.") from None
        if response.status_code >= 500:
            raise TransientError(f"the token endpoint failed (HTTP {response.status_code}).")
        if response.status_code != 200:
            raise AuthenticationError(
                f"the token endpoint refused the refresh token (HTTP {response.status_code}): "
                f"{redact(response.text[:200])}",
                hint="authorise the app again and store the new refresh token",
            )
        return response.json()

    def _refresh_locked(self) -> None:
        form = {
            "grant_type": "refresh_token",
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "refresh_token": self._refresh_token,
            **self.extra,
        }
        answer = self.request_token(form)
        access = answer.get("access_token")
        if not access:
            raise AuthenticationError("the token endpoint answered without an access token.")
        register_secret(str(access))
        self._access = clean_secret(str(access), "access token the token endpoint answered")
        if answer.get("refresh_token"):
            register_secret(str(answer["refresh_token"]))
            self._refresh_token = clean_secret(
                str(answer["refresh_token"]), "refresh token the token endpoint answered"
            )
        self.refreshes += 1
        self.store.save(
            self.token_key,
            {
                "access_token": self._access,
                "refresh_token": self._refresh_token,
                "expires_in": answer.get("expires_in"),
            },
        )
        log.info("refreshed the OAuth access token (refresh %d)", self.refreshes)

    def __repr__(self) -> str:
        return f"OAuth2Refresh(token_url={self.token_url!r}, client_id={self.client_id!r}, tokens='***')"
