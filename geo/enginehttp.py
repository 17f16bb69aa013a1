"""One place where a routing engine's HTTP answer becomes JSON or a typed ``RoutingError``.

Transport failures, timeouts and 5xx/429 answers are the engine being unavailable; a 4xx answer is read by the
engine's own ``classify`` (its error body says whether no route exists or our request was refused).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx

from geo.errors import BadAnswer, RoutingError, RoutingTimeout, RoutingUnavailable

USER_AGENT = "road-closure-bot (routing)"

# (status, decoded error body or None) -> the error to raise
Classify = Callable[[int, Any], RoutingError]


def make_client(
    base_url: str, timeout_s: float, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    """A client for one engine: every request of it ends within ``timeout_s`` seconds."""
    return httpx.Client(
        base_url=base_url.rstrip("/"),
        timeout=httpx.Timeout(timeout_s),
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        transport=transport,
    )


def request_json(
    client: httpx.Client,
    engine: str,
    method: str,
    path: str,
    *,
    classify: Classify,
    json: Mapping[str, Any] | None = None,
    params: Mapping[str, str] | None = None,
) -> Any:
    """The decoded JSON body of a 2xx answer, or the typed error saying why there is none."""
    try:
        response = client.request(method, path, json=json, params=params)
    except httpx.TimeoutException as exc:
        raise RoutingTimeout(engine, f"no answer from {client.base_url} within the timeout") from exc
    except httpx.HTTPError as exc:  # connection refused, reset, DNS …
        raise RoutingUnavailable(engine, f"{type(exc).__name__}: {exc}") from exc
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code == 429 or response.status_code >= 500:
        raise RoutingUnavailable(engine, f"HTTP {response.status_code}: {_snippet(response)}")
    if response.status_code >= 400:
        raise classify(response.status_code, body)
    if body is None:
        raise BadAnswer(
            engine, f"HTTP {response.status_code} with a body that is not JSON: {_snippet(response)}"
        )
    return body


def _snippet(response: httpx.Response) -> str:
    return " ".join(response.text.split())[:200]
