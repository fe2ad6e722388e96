"""Pagination helpers for the four styles CRMs use, each resumable from a saved position.

Every helper takes a ``fetch`` function (position → decoded body) and yields ``Page`` objects:
the records of one page and ``next``, the position of the following page (``None`` on the
last). Save ``page.next`` in a checkpoint and pass it back as ``start`` to resume.

- ``cursor_pages``: an opaque cursor from the body (HubSpot ``paging.next.after``,
  Pipedrive ``next_cursor``); ``page_token_pages`` the same for page tokens (Zoho ``next_page_token``);
- ``offset_pages``: ``offset``/``limit`` arithmetic (Fxiaoke, Pipedrive v1 ``start``), with an
  optional cap on the offset an API accepts;
- ``next_link_pages``: a URL to call next (Salesforce ``nextRecordsUrl``, OData ``@odata.nextLink``).

``records`` is a dotted path into the body (``"data.dataList"``) or a function.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .errors import ConnectorError

__all__ = ["Page", "PagingCycle", "cursor_pages", "dig", "next_link_pages", "offset_pages", "page_token_pages"]

Extract = str | Callable[[Any], Any]


@dataclass(frozen=True)
class Page:
    """One page of an API listing: its records, the position of the next page, the raw body."""

    records: list[Any]
    next: Any
    body: Any
    number: int = 1


def dig(body: Any, path: str) -> Any:
    """The value at a dotted path (``"paging.next.after"``), or None when any step is missing."""
    value = body
    for step in path.split(".") if path else []:
        if isinstance(value, dict):
            value = value.get(step)
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            return None
        if value is None:
            return None
    return value


def _get(body: Any, extract: Extract) -> Any:
    return extract(body) if callable(extract) else dig(body, extract)


def cursor_pages(
    fetch: Callable[[Any], Any], *, records: Extract, next_cursor: Extract, start: Any = None
) -> Iterator[Page]:
    """Pages of a cursor (or page-token) listing: ``fetch(None)`` first, then ``fetch(cursor)``."""
    cursor = start
    number = 0
    seen: set[str] = set()
    while True:
        body = fetch(cursor)
        number += 1
        following = _get(body, next_cursor) or None
        yield Page(list(_get(body, records) or []), following, body, number)
        if following is None or following == cursor:
            return
        _refuse_a_cycle(seen, following, number)
        cursor = following


def page_token_pages(
    fetch: Callable[[Any], Any], *, records: Extract, next_token: Extract, start: Any = None
) -> Iterator[Page]:
    """Pages of a page-token listing (Zoho ``info.next_page_token``, Google-style ``nextPageToken``).

    The same walk as ``cursor_pages``, named for APIs that call their cursor a page token.
    """
    return cursor_pages(fetch, records=records, next_cursor=next_token, start=start)


def offset_pages(
    fetch: Callable[[int], Any],
    *,
    records: Extract,
    page_size: int,
    start: int = 0,
    total: Extract | None = None,
    max_offset: int | None = None,
) -> Iterator[Page]:
    """Pages of an offset listing: ``fetch(0)``, ``fetch(page_size)``, … until a short page or ``total``.

    ``max_offset`` is the largest offset the API accepts: a listing that would need more raises
    ``ValueError`` so the connector can narrow its filter instead of silently stopping.
    """
    offset = start
    number = 0
    while True:
        if max_offset is not None and offset > max_offset:
            raise ValueError(f"offset {offset} is beyond the largest the API accepts ({max_offset}); narrow the query")
        body = fetch(offset)
        number += 1
        items = list(_get(body, records) or [])
        following: int | None = offset + len(items)
        if not items or len(items) < page_size:
            following = None
        elif total is not None:
            count = _get(body, total)
            if count is not None and following is not None and following >= int(count):
                following = None
        yield Page(items, following, body, number)
        if following is None:
            return
        offset = following


def next_link_pages(
    fetch: Callable[[str], Any], first: str, *, records: Extract, next_link: Extract, start: str | None = None
) -> Iterator[Page]:
    """Pages of a listing that names the URL of its next page: ``fetch(first)``, then each link."""
    link: str | None = start or first
    number = 0
    seen: set[str] = set()
    while link:
        body = fetch(link)
        number += 1
        following = _get(body, next_link) or None
        yield Page(list(_get(body, records) or []), following, body, number)
        if following is not None:
            _refuse_a_cycle(seen, following, number)
        link = following


class PagingCycle(ConnectorError):
    """A listing's next page is one it already gave: following it would never end."""


def _refuse_a_cycle(seen: set[str], following: Any, number: int) -> None:
    key = repr(following)
    if key in seen:
        raise PagingCycle(
            f"page {number} of the listing points back to an earlier page, so it would never end; the sync stopped.",
            hint="run it again; if it happens again, the CRM's paging is broken for this query",
        )
    seen.add(key)
