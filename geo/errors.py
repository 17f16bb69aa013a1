"""The typed error family of ``geo``: every rejection carries a stable reason code.

The bot turns a code into a sentence in the user's language; the code itself never reaches a user.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why a piece of geometry input was refused."""

    NOT_JSON = "not_json"
    NOT_WKT = "not_wkt"
    RING_NOT_CLOSED = "ring_not_closed"
    UNRECOGNISED = "unrecognised"
    UNSUPPORTED_TYPE = "unsupported_type"
    EMPTY = "empty"
    NOT_FINITE = "not_finite"
    LAT_OUT_OF_RANGE = "lat_out_of_range"
    LON_OUT_OF_RANGE = "lon_out_of_range"
    PROBABLY_SWAPPED = "probably_swapped"
    SELF_INTERSECTING = "self_intersecting"
    ZERO_LENGTH = "zero_length"
    TOO_MANY_VERTICES = "too_many_vertices"
    TOO_LONG = "too_long"
    TOO_BIG = "too_big"
    TOO_LARGE_INPUT = "too_large_input"


class GeoError(ValueError):
    """Base of every geometry error."""


class GeometryError(GeoError):
    """Input that cannot become a valid geometry; ``reason`` says why, ``detail`` is for logs.

    ``meant`` is the (lat, lon) the author probably meant, when the reason is a swapped point.
    """

    def __init__(self, reason: Reason, detail: str = "", *, meant: tuple[float, float] | None = None) -> None:
        self.reason = reason
        self.detail = detail
        self.meant = meant
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)


class GeocodingProblem(StrEnum):
    """Why a place-name lookup (forward or reverse geocoding) gave no answer."""

    OFF = "off"  # no geocoder is configured
    TIMEOUT = "timeout"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"  # down, refused the connection, a server error, an unreadable answer
    REFUSED = "refused"  # credentials, quota or permissions: a matter for whoever configured the bot


class GeocodingError(Exception):
    """Base of the geocoding family: the service could not answer (an empty answer is not an error)."""

    problem = GeocodingProblem.UNAVAILABLE

    def __init__(self, detail: str = "") -> None:
        self.detail = detail
        super().__init__(f"{self.problem.value}: {detail}" if detail else self.problem.value)


class GeocoderOff(GeocodingError):
    problem = GeocodingProblem.OFF


class GeocoderTimeout(GeocodingError):
    problem = GeocodingProblem.TIMEOUT


class GeocoderRateLimited(GeocodingError):
    """The service asked us to slow down; ``retry_after`` is its Retry-After in seconds, when it said."""

    problem = GeocodingProblem.RATE_LIMITED

    def __init__(self, detail: str = "", *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(detail)


class GeocoderUnavailable(GeocodingError):
    problem = GeocodingProblem.UNAVAILABLE


class GeocoderRefused(GeocodingError):
    problem = GeocodingProblem.REFUSED


class RoutingError(Exception):
    """Base of every routing failure; ``engine`` names the router, ``detail`` is for logs."""

    def __init__(self, engine: str, detail: str = "") -> None:
        self.engine = engine
        self.detail = detail
        super().__init__(f"{engine}: {detail}" if detail else engine)


class RoutingUnavailable(RoutingError):
    """The engine cannot be reached or started (no server, no tiles, a 5xx answer)."""


class RoutingTimeout(RoutingError):
    """The engine did not answer within the configured time."""


class NoRoute(RoutingError):
    """The engine answered that no route joins the points (off the road network, or every way excluded)."""


class BadAnswer(RoutingError):
    """The engine answered something we cannot read, or refused our request as malformed."""
