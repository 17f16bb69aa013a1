"""A local, X-compatible API server on 127.0.0.1 for the publisher tests, reached through ``X_API_BASE_URL``.

The X publisher sends to the configured base URL (``XPublisher(api_base_url=…)``, ``X_API_BASE_URL`` in the
settings) while signing every request for the public API, as X checks it behind a proxy — so this server
checks each OAuth 1.0a signature against ``https://api.twitter.com`` + the path, as X itself would.

It speaks the v2 JSON shapes of ``POST /2/tweets``, ``POST /2/media/upload``, ``GET /2/users/me`` and
``GET /2/users/:id/tweets``, refuses duplicate content (403) and over-long text (by twitter-text), and
injects faults: ``fail_next`` (429 with ``x-rate-limit-reset``, 5xx, …) and ``delay_next`` (a slow answer,
for client timeouts). ``wait_for`` waits without sleeping.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web
from oauthlib.oauth1 import Client
from oauthlib.oauth1.rfc5849 import signature, utils

from bot.config import PUBLIC_X_API
from bot.publish.x import XAccount
from bot.text.posts import x_length, x_valid

ACCOUNT = XAccount("ck-local", "cs-local", "1500000000000000001-at-local", "ats-local")
USER_ID = ACCOUNT.access_token.partition("-")[0]


@dataclass
class XCall:
    method: str
    path: str
    body: Any
    status: int
    answer: Any


@dataclass
class _Fault:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class LocalXApi:
    """The server; ``tweets`` holds what was posted (newest last), ``calls`` every request and answer."""

    def __init__(self, account: XAccount = ACCOUNT) -> None:
        self.account = account
        self.port = 0
        self.tweets: list[dict[str, Any]] = []
        self.media: dict[str, dict[str, Any]] = {}
        self.calls: list[XCall] = []
        self._ids = itertools.count(1_860_000_000_000_000_001)
        self._faults: dict[str, list[_Fault]] = {}
        self._delays: dict[str, list[float]] = {}
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> Self:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        """For ``X_API_BASE_URL``: ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    # faults ------------------------------------------------------------------------------------------
    def fail_next(self, endpoint: str, *, status: int = 429, reset_in: float = 1.0, times: int = 1) -> None:
        """Refuse the next ``times`` requests to ``endpoint`` (e.g. ``"POST /2/tweets"``)."""
        headers: dict[str, str] = {}
        if status == 429:
            body = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank"}
            headers = {"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0",
                       "x-rate-limit-reset": str(int(time.time() + reset_in))}  # fmt: skip
        else:
            body = {"title": "Service Unavailable", "detail": "Service Unavailable", "type": "about:blank"}
        body["status"] = status
        self._faults.setdefault(endpoint, []).extend([_Fault(status, body, headers)] * times)

    def delay_next(self, endpoint: str, seconds: float, *, times: int = 1) -> None:
        """Answer the next ``times`` requests to ``endpoint`` only after ``seconds`` (processed anyway)."""
        self._delays.setdefault(endpoint, []).extend([seconds] * times)

    async def wait_for(
        self,
        predicate: Callable[[XCall], bool],
        *,
        since: int = 0,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> XCall:
        def found() -> XCall | None:
            return next((c for c in self.calls[since:] if predicate(c)), None)

        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: found() is not None)
        result = found()
        assert result is not None
        return result

    # HTTP --------------------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        endpoint = f"{request.method} {request.path}"
        raw = await request.read()
        body: Any = json.loads(raw) if raw and request.content_type == "application/json" else None
        if self._delays.get(endpoint):
            await asyncio.sleep(self._delays[endpoint].pop(0))
        status, answer, headers = self._answer(request, endpoint, body)
        async with self._changed:
            self.calls.append(XCall(request.method, request.path, body, status, answer))
            self._changed.notify_all()
        return web.json_response(answer, status=status, headers=headers)

    def _answer(self, request: web.Request, endpoint: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        if not self._signed(request):
            return 401, _problem(401, "Unauthorized", "Unauthorized"), {}
        if self._faults.get(endpoint):
            fault = self._faults[endpoint].pop(0)
            return fault.status, fault.body, fault.headers
        if endpoint == "GET /2/users/me":
            return 200, {"data": {"id": USER_ID, "name": "Riyadh roads", "username": "riyadh_roads"}}, {}
        if endpoint == f"GET /2/users/{USER_ID}/tweets":
            return 200, self._timeline(request.query.get("start_time")), {}
        if endpoint == "POST /2/media/upload":
            return self._upload(body)
        if endpoint == "POST /2/tweets":
            return self._create(body or {})
        return 404, _problem(404, "Not Found", f"no route {endpoint}"), {}

    def _signed(self, request: web.Request) -> bool:
        """Check the OAuth 1.0a HMAC-SHA1 signature against the public API's URL, as X does."""
        header = request.headers.get("Authorization", "")
        if not header.startswith("OAuth "):
            return False
        oauth = dict(utils.parse_authorization_header(header))
        if oauth.get("oauth_consumer_key") != self.account.consumer_key:
            return False
        uri = f"{PUBLIC_X_API}{request.path_qs}"
        params = signature.collect_parameters(
            uri_query=request.query_string, headers={"Authorization": header}, exclude_oauth_signature=True
        )
        base = signature.signature_base_string(
            request.method, signature.base_string_uri(uri), signature.normalize_parameters(params)
        )
        keys = Client(
            self.account.consumer_key,
            client_secret=self.account.consumer_secret,
            resource_owner_secret=self.account.access_token_secret,
        )
        expected = signature.sign_hmac_sha1_with_client(base, keys)
        return bool(expected == utils.unescape(oauth.get("oauth_signature", "")))

    def _upload(self, body: Any) -> tuple[int, Any, dict[str, str]]:
        if not isinstance(body, dict) or not body.get("media") or body.get("media_category") != "tweet_image":
            return 400, _problem(400, "Invalid Request", "media and media_category are required"), {}
        media_id = str(next(self._ids))
        data = {
            "id": media_id,
            "media_key": f"3_{media_id}",
            "size": len(body["media"]) * 3 // 4,
            "expires_after_secs": 86400,
            "image": {"image_type": body.get("media_type", "image/png")},
        }
        self.media[media_id] = data
        return 200, {"data": data}, {}

    def _create(self, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        text = str(body.get("text") or "")
        if not x_valid(text):
            return 400, _problem(400, "Invalid Request", f"text is invalid ({x_length(text)} weighted)"), {}
        if any(t["text"] == text for t in self.tweets):
            detail = "You are not allowed to create a Tweet with duplicate content."
            return 403, _problem(403, "Forbidden", detail), {}
        reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        if reply_to and not any(t["id"] == reply_to for t in self.tweets):
            return 400, _problem(400, "Invalid Request", "in_reply_to_tweet_id does not exist"), {}
        media = (body.get("media") or {}).get("media_ids") or []
        if any(m not in self.media for m in media):
            return 400, _problem(400, "Invalid Request", "unknown media id"), {}
        tweet_id = str(next(self._ids))
        self.tweets.append(
            {"id": tweet_id, "text": text, "reply_to": reply_to, "media": media, "at": time.time()}
        )
        return 201, {"data": {"id": tweet_id, "text": text, "edit_history_tweet_ids": [tweet_id]}}, {}

    def _timeline(self, start_time: str | None) -> dict[str, Any]:
        tweets = [
            {"id": t["id"], "text": t["text"], "edit_history_tweet_ids": [t["id"]]} for t in self.tweets
        ]
        tweets.reverse()  # newest first, as X lists them
        meta: dict[str, Any] = {"result_count": len(tweets)}
        if tweets:
            meta |= {"newest_id": tweets[0]["id"], "oldest_id": tweets[-1]["id"]}
        return {"data": tweets, "meta": meta} if tweets else {"meta": meta}


def _problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {"title": title, "detail": detail, "type": "about:blank", "status": status}
