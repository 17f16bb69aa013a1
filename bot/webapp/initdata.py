"""Telegram's signed ``initData``, checked exactly as Telegram's Mini Apps documentation specifies.

A Mini App page opened from one of our buttons receives ``initData`` from Telegram: a query string such as
``query_id=…&user=%7B%22id%22%3A7001…%7D&auth_date=1795000000&hash=…``, signed with a key that only
Telegram and the bot can derive. The page sends it back with what it asks for; this module decides whether
to believe it:

1. the data-check-string is every received ``key=value`` pair except ``hash`` (values URL-decoded), sorted
   by key and joined with line feeds;
2. the secret key is HMAC-SHA256 over the bot token, keyed with the constant ``"WebAppData"``;
3. ``hash`` must be the hex HMAC-SHA256 of the data-check-string under that secret key (compared in
   constant time);
4. ``auth_date`` may be at most ``max_age_s`` old, and ahead of our clock by at most ``SKEW_S``.

Pure: no I/O, the clock is passed in. A refusal carries a reason fit for a log line: never the data, the
hash or the token.

>>> verify_init_data("auth_date=1&hash=00", "123:ABC", now=datetime.now(UTC), max_age_s=3600)
Traceback (most recent call last):
...
bot.webapp.initdata.InitDataRefused: bad_signature
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from urllib.parse import parse_qsl

SKEW_S = 60  # a phone's clock (and so Telegram's auth_date seen from here) may run this much ahead
LONGEST_AGE_S = 86_400  # the largest max_age_s a deployment may choose (WEBAPP_MAX_AGE_S)
MAX_INIT_DATA_CHARS = 8_192  # Telegram's initData is well under a kilobyte; more is not from Telegram
_HASH_HEX_CHARS = 64


class Refusal(StrEnum):
    """Why an ``initData`` is not believed."""

    MISSING = "missing"
    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    STALE = "stale"
    FUTURE = "future"
    NO_USER = "no_user"


class InitDataRefused(Exception):
    """The ``initData`` is not Telegram's, is too old, or says nothing we can use; ``reason`` says which."""

    def __init__(self, reason: Refusal) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class InitData:
    """What a verified ``initData`` vouches for: who opened the page, and when."""

    user_id: int
    first_name: str
    language_code: str | None
    auth_date: datetime
    query_id: str | None
    signature_hash: str = field(repr=False)  # the hex ``hash``: what a replay would repeat
    user: dict[str, object] = field(repr=False, default_factory=dict)  # the User object, as sent


def secret_key(bot_token: str) -> bytes:
    """HMAC-SHA256 of the bot token with the key ``"WebAppData"``."""
    return hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()


def data_check_string(fields: dict[str, str]) -> str:
    """Every field but ``hash``, as ``key=value``, sorted by key, one per line."""
    return "\n".join(f"{key}={fields[key]}" for key in sorted(fields) if key != "hash")


def verify_init_data(init_data: str, bot_token: str, *, now: datetime, max_age_s: float) -> InitData:
    """The user and time ``init_data`` vouches for; :class:`InitDataRefused` unless it is Telegram's and
    fresh."""
    fields = _fields(init_data)
    given = fields.get("hash", "")
    expected = hmac.new(secret_key(bot_token), data_check_string(fields).encode(), hashlib.sha256).hexdigest()
    # compare_digest takes the same time wherever the strings differ (and whatever their lengths)
    if not hmac.compare_digest(given.lower().encode(), expected.encode()):
        raise InitDataRefused(Refusal.BAD_SIGNATURE)
    auth_date = _auth_date(fields.get("auth_date", ""))
    if auth_date > now + timedelta(seconds=SKEW_S):
        raise InitDataRefused(Refusal.FUTURE)
    if now - auth_date > timedelta(seconds=max_age_s):
        raise InitDataRefused(Refusal.STALE)
    user = _user(fields.get("user"))
    language = user.get("language_code")
    return InitData(
        user_id=int(user["id"]),  # type: ignore[call-overload]  # checked by _user
        first_name=str(user.get("first_name") or ""),
        language_code=language if isinstance(language, str) else None,
        auth_date=auth_date,
        query_id=fields.get("query_id"),
        signature_hash=expected,
        user=user,
    )


def _fields(init_data: str) -> dict[str, str]:
    if not init_data:
        raise InitDataRefused(Refusal.MISSING)
    if len(init_data) > MAX_INIT_DATA_CHARS:
        raise InitDataRefused(Refusal.MALFORMED)
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True, errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise InitDataRefused(Refusal.MALFORMED) from None
    fields = dict(pairs)
    if len(fields) != len(pairs):  # a key twice: which one did Telegram sign?
        raise InitDataRefused(Refusal.MALFORMED)
    given = fields.get("hash", "")
    if len(given) != _HASH_HEX_CHARS or not all(c in "0123456789abcdefABCDEF" for c in given):
        raise InitDataRefused(Refusal.BAD_SIGNATURE)
    return fields


def _auth_date(text: str) -> datetime:
    if not text.isdigit() or len(text) > 12:
        raise InitDataRefused(Refusal.MALFORMED)
    return datetime.fromtimestamp(int(text), UTC)


def _user(text: str | None) -> dict[str, object]:
    try:
        user = json.loads(text) if text else None
    except ValueError:
        user = None
    if not isinstance(user, dict) or type(user.get("id")) is not int or user.get("is_bot") is True:
        raise InitDataRefused(Refusal.NO_USER)
    return user
