"""Short map links followed to their coordinates against a local stand-in, never off the providers' hosts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from geo.shortlinks import ShortLinkError, ShortLinkResolver, is_short_link
from tests.fakes.shortlinks import ShortLinkServer


@pytest.fixture
def server() -> Iterator[ShortLinkServer]:
    with ShortLinkServer().running() as running:
        yield running


@pytest.fixture
def resolver(server: ShortLinkServer) -> ShortLinkResolver:
    return ShortLinkResolver(timeout_s=1.0, base_url=server.url_for())


@pytest.mark.parametrize(
    ("text", "lat", "lon"),
    [
        ("https://maps.app.goo.gl/kingdom", 24.7114, 46.6744),
        (
            "Kingdom Centre\nmaps.app.goo.gl/kingdom",
            24.7114,
            46.6744,
        ),  # a share sheet: the name, then the link
        ("https://goo.gl/maps/hop", 24.7114, 46.6744),  # two hops, both on the providers' hosts
        ("https://maps.apple/p/olaya", 24.6950, 46.6850),
    ],
)
async def test_a_short_link_leads_to_the_coordinates_of_its_place(
    resolver: ShortLinkResolver, server: ShortLinkServer, text: str, lat: float, lon: float
) -> None:
    point = await resolver.resolve(text)
    assert (round(point.y, 4), round(point.x, 4)) == (lat, lon)
    assert all(host in ("maps.app.goo.gl", "goo.gl", "maps.apple") for host, _ in server.requests)


@pytest.mark.parametrize("path", ["/elsewhere", "/nowhere", "/loop", "/missing"])
async def test_a_link_that_leads_off_the_providers_or_nowhere_is_refused(
    resolver: ShortLinkResolver, server: ShortLinkServer, path: str
) -> None:
    with pytest.raises(ShortLinkError):
        await resolver.resolve(f"https://maps.app.goo.gl{path}")
    assert len(server.requests) <= resolver.max_redirects
    assert all(requested_path != "/internal" for _, requested_path in server.requests)


async def test_a_short_link_that_does_not_answer_in_time_is_given_up(server: ShortLinkServer) -> None:
    resolver = ShortLinkResolver(timeout_s=0.3, base_url=server.url_for())
    with pytest.raises(ShortLinkError, match=r"within 0\.3 s"):
        await resolver.resolve("https://maps.app.goo.gl/slow")


@pytest.mark.parametrize(
    ("text", "short"),
    [("https://maps.app.goo.gl/x", True), ("goo.gl/maps/x", True), ("https://goo.gl/other", False),
     ("https://maps.apple/p/x", True), ("https://www.google.com/maps/@24.7,46.6", False),
     ("https://example.org/x", False), ("not a link", False)],
)  # fmt: skip
def test_only_the_providers_short_links_are_followed(text: str, short: bool) -> None:
    assert is_short_link(text) is short


async def test_text_that_is_no_short_link_is_never_requested(
    resolver: ShortLinkResolver, server: ShortLinkServer
) -> None:
    with pytest.raises(ShortLinkError):
        await resolver.resolve("https://example.org/kingdom")
    assert server.requests == []
