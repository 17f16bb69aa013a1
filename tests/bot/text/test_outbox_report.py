"""/outbox as admins read it: which dead letters may have been posted, and what goes out again by itself."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.i18n import get_translator
from bot.text.staff_views import outbox_report
from closures.publishing import Backlog, DeadLetter

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
IN_DOUBT = DeadLetter(
    7, 3, "announced", "telegram:@riyadh_roads", 1,
    "in doubt: a send started at 2026-11-27T08:59:00+00:00 left no outcome, and the Bot API cannot read it",
)  # fmt: skip
REFUSED = DeadLetter(8, 4, "announced", "telegram:@jeddah_roads", 1, "telegram refused: Chat not found")


def test_each_dead_letter_says_whether_it_may_have_been_posted():
    report = Backlog({"pending": 2, "dead": 2}, NOW, [IN_DOUBT, REFUSED], retrying=2)
    text = outbox_report(report, get_translator("en"), now=NOW)
    doubt, refused = text.split("• ")[1:]
    assert "⚠️ in doubt: it may have been posted. Look at @riyadh_roads before retrying it." in doubt
    assert "✖️ not posted: safe to retry." in refused
    assert "2 posts that were never sent go out again by themselves." in text


def plain(text: str) -> str:
    """Without the bidi isolates the Arabic catalogue puts around each value."""
    return text.replace("\u2068", "").replace("\u2069", "")


def test_in_arabic_too_with_its_plural_forms():
    tr = get_translator("ar")
    one = plain(outbox_report(Backlog({"pending": 1}, NOW, [], retrying=1), tr, now=NOW))
    two = plain(outbox_report(Backlog({"pending": 2}, NOW, [], retrying=2), tr, now=NOW))
    eleven = plain(outbox_report(Backlog({"pending": 11}, NOW, [IN_DOUBT], retrying=11), tr, now=NOW))
    assert "منشور واحد لم يُرسل سيُعاد إرساله تلقائيًا." in one
    assert "منشوران لم يُرسلا سيُعاد إرسالهما تلقائيًا." in two
    assert "منشورًا لم يُرسل" in eleven
    assert "⚠️ غير مؤكد: ربما نُشر. راجع @riyadh_roads قبل إعادة المحاولة." in eleven


def test_nothing_waiting_again_says_nothing_about_it():
    text = outbox_report(Backlog({"done": 3}, None, []), get_translator("en"), now=NOW)
    assert "again" not in text
