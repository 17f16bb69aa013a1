"""The initData check, against vectors computed here from Telegram's documented recipe (never by calling
the code under test): data-check-string of the sorted ``key=value`` pairs but ``hash``, secret key =
HMAC-SHA256("WebAppData", bot token), hash = hex HMAC-SHA256(secret key, data-check-string)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

import pytest

from bot.webapp.initdata import InitDataRefused, Refusal, verify_init_data

TOKEN = "123456:TEST-TOKEN"
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # 1795770000
USER = {"id": 7001, "first_name": "أحمد", "language_code": "ar"}

# One vector worked out by hand from the recipe, so the helper below is itself checked.
KNOWN_SECRET_HEX = "97b85f353212ba6fa887c83713d6be865df1a84f004a490d2f0c564f57ec4513"
KNOWN_INIT_DATA = (
    "query_id=AAHdF6IQAAAAAN0XohDhrOrc"
    "&user=%7B%22id%22%3A7001%2C%22first_name%22%3A%22%D8%A3%D8%AD%D9%85%D8%AF%22%2C%22language_code%22"
    "%3A%22ar%22%7D&auth_date=1795770000"
    "&hash=e03f983fa78a716bbf2b550544046716449e9d2a3ca9b0d811d2c30c55329421"
)


def signed(fields: dict[str, str], token: str = TOKEN, *, order: list[str] | None = None) -> str:
    """``fields`` as Telegram sends them: URL-encoded in any order, with their hash."""
    check = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    digest = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    pairs = [(key, fields[key]) for key in (order or list(fields))] + [("hash", digest)]
    return urlencode(pairs, quote_via=quote)


def fields_at(when: datetime, **extra: str) -> dict[str, str]:
    user = json.dumps(USER, ensure_ascii=False, separators=(",", ":"))
    return {"query_id": "AAHdF6IQ", "user": user, "auth_date": str(int(when.timestamp())), **extra}


def verify(init_data: str, *, token: str = TOKEN, max_age_s: float = 3600):
    return verify_init_data(init_data, token, now=NOW, max_age_s=max_age_s)


def refusal(init_data: str, **options: object) -> Refusal:
    with pytest.raises(InitDataRefused) as caught:
        verify(init_data, **options)  # type: ignore[arg-type]
    return caught.value.reason


def test_the_known_vector_is_accepted_and_says_who_opened_the_page():
    secret = hmac.new(b"WebAppData", TOKEN.encode(), hashlib.sha256).digest()
    assert secret.hex() == KNOWN_SECRET_HEX
    assert signed(fields_at(NOW) | {"query_id": "AAHdF6IQAAAAAN0XohDhrOrc"}) == KNOWN_INIT_DATA

    init = verify(KNOWN_INIT_DATA)

    assert (init.user_id, init.first_name, init.language_code) == (7001, "أحمد", "ar")
    assert init.auth_date == NOW
    assert init.query_id == "AAHdF6IQAAAAAN0XohDhrOrc"
    assert init.signature_hash == KNOWN_INIT_DATA.rsplit("hash=", 1)[1]
    assert "e03f98" not in repr(init)  # never in a log line


def test_every_field_but_hash_is_signed_in_any_order_even_ones_we_do_not_read():
    fields = fields_at(NOW, chat_instance="-42", chat_type="private", signature="c2lnbmF0dXJl")
    shuffled = ["signature", "user", "chat_type", "auth_date", "query_id", "chat_instance"]

    assert verify(signed(fields, order=shuffled)).user_id == 7001


def test_the_signature_is_checked_in_upper_case_hex_too():
    init_data = signed(fields_at(NOW))
    head, digest = init_data.rsplit("hash=", 1)

    assert verify(f"{head}hash={digest.upper()}").user_id == 7001


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d.replace("%22id%22%3A7001", "%22id%22%3A7002"),  # someone else
        lambda d: d.replace("auth_date=1795770000", "auth_date=1795770001"),  # a fresher date
        lambda d: d + "&is_admin=true",  # a field added after signing
        lambda d: "&".join(p for p in d.split("&") if not p.startswith("query_id=")),  # one dropped
    ],
    ids=["user", "auth_date", "added", "dropped"],
)
def test_any_change_to_the_signed_fields_is_refused_as_forged(tamper):
    init_data = signed(fields_at(NOW))
    assert verify(init_data).user_id == 7001

    assert refusal(tamper(init_data)) is Refusal.BAD_SIGNATURE


def test_data_signed_with_another_bots_token_is_refused():
    assert refusal(signed(fields_at(NOW), token="654321:OTHER-BOT")) is Refusal.BAD_SIGNATURE


def test_a_hash_that_is_not_64_hex_digits_is_refused_before_any_comparison():
    head = signed(fields_at(NOW)).rsplit("hash=", 1)[0]
    for bad in ("", "abc", "z" * 64, "0" * 63):
        assert refusal(f"{head}hash={bad}") is Refusal.BAD_SIGNATURE
    assert refusal(head.rstrip("&")) is Refusal.BAD_SIGNATURE  # no hash at all


def test_nothing_or_garbage_is_refused():
    assert refusal("") is Refusal.MISSING
    assert refusal("%%%") is Refusal.MALFORMED
    assert refusal("x" * 9_000) is Refusal.MALFORMED


def test_a_field_given_twice_is_refused_whatever_was_signed():
    init_data = signed(fields_at(NOW))

    assert refusal(f"{init_data}&user=%7B%22id%22%3A1%7D") is Refusal.MALFORMED


@pytest.mark.parametrize(
    ("age", "accepted"),
    [(timedelta(seconds=3600), True), (timedelta(seconds=3601), False), (timedelta(days=2), False)],
)
def test_auth_date_may_be_at_most_max_age_old(age, accepted):
    init_data = signed(fields_at(NOW - age))
    if accepted:
        assert verify(init_data).user_id == 7001
    else:
        assert refusal(init_data) is Refusal.STALE


def test_a_shorter_max_age_refuses_sooner():
    assert refusal(signed(fields_at(NOW - timedelta(minutes=2))), max_age_s=60) is Refusal.STALE


@pytest.mark.parametrize(
    ("ahead", "accepted"), [(timedelta(seconds=60), True), (timedelta(seconds=61), False)]
)
def test_auth_date_may_be_ahead_of_our_clock_only_by_a_small_skew(ahead, accepted):
    init_data = signed(fields_at(NOW + ahead))
    if accepted:
        assert verify(init_data).user_id == 7001
    else:
        assert refusal(init_data) is Refusal.FUTURE


def test_a_missing_or_unreadable_auth_date_is_refused():
    fields = fields_at(NOW)
    del fields["auth_date"]
    assert refusal(signed(fields)) is Refusal.MALFORMED
    assert refusal(signed(fields_at(NOW) | {"auth_date": "yesterday"})) is Refusal.MALFORMED


@pytest.mark.parametrize(
    "user",
    [None, "not json", '"7001"', '{"first_name":"x"}', '{"id":"7001"}', '{"id":7001,"is_bot":true}'],
    ids=["absent", "garbage", "a string", "no id", "id as text", "a bot"],
)
def test_signed_data_without_a_usable_person_is_refused(user):
    fields = fields_at(NOW)
    if user is None:
        del fields["user"]
    else:
        fields["user"] = user

    assert refusal(signed(fields)) is Refusal.NO_USER
