"""A CRM's answers are untrusted: a next-page link never takes the credentials to another host, and a
listing whose pages point back to earlier ones stops instead of running forever."""

from __future__ import annotations

import pytest

from kpi_engine import BearerToken, ConnectorError, HttpClient
from kpi_engine.connect.paging import PagingCycle, cursor_pages, next_link_pages
from kpi_engine.testing import MockCRMServer, MockRequest, MockResponse, route

TOKEN = "tok-hostile-1234"


class Listing(MockCRMServer):
    """Pages whose next link (or cursor) the test sets."""

    name = "listing"

    def __init__(self, next_link: str | None = None) -> None:
        super().__init__(static_tokens=[TOKEN])
        self.next_link = next_link

    @route("GET", r"/query")
    def query(self, request: MockRequest) -> MockResponse:
        return MockResponse(200, {"records": [{"Id": "006A"}], "nextRecordsUrl": self.next_link})


def test_a_next_page_link_to_another_host_is_refused_and_the_token_never_leaves():
    with Listing() as elsewhere, Listing() as crm:
        crm.next_link = f"{elsewhere.url}/query?page=2"  # the same address, another port: another origin
        client = HttpClient(crm.url, auth=BearerToken(TOKEN), name="acme")
        pages = next_link_pages(client.get_json, "/query", records="records", next_link="nextRecordsUrl")
        with pytest.raises(ConnectorError) as refused:
            list(pages)
    assert "the call was not made" in refused.value.message
    assert elsewhere.request_count == 0, "nothing, and no token, reached the other host"
    assert crm.request_count == 1


def test_a_next_page_link_on_the_crms_own_host_is_followed():
    with Listing() as crm:
        crm.next_link = None
        client = HttpClient(crm.url, auth=BearerToken(TOKEN))
        first = client.get_json("/query")
        crm.next_link = f"{crm.url}/query?page=2"
        followed = client.get_json(crm.next_link)
    assert first["records"] == followed["records"]


def test_a_cursor_that_points_back_to_an_earlier_page_stops_the_listing():
    answers = {None: "B", "B": "C", "C": "B"}  # B -> C -> B -> C ... forever
    fetched: list[object] = []

    def fetch(cursor):
        fetched.append(cursor)
        return {"results": [cursor], "next": answers[cursor]}

    with pytest.raises(PagingCycle, match="points back to an earlier page"):
        _at_most(10, cursor_pages(fetch, records="results", next_cursor="next"))
    assert fetched == [None, "B", "C"]


def test_a_next_link_that_points_back_stops_the_listing():
    links = {"/p1": "/p2", "/p2": "/p1"}

    def fetch(link):
        return {"records": [link], "next": links[link]}

    with pytest.raises(PagingCycle):
        _at_most(10, next_link_pages(fetch, "/p1", records="records", next_link="next"))


def _at_most(pages: int, listing) -> None:
    for number, _ in enumerate(listing, start=1):
        assert number <= pages, "the listing went on past its cycle"
