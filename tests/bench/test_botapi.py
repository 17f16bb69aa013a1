"""The bench's local Bot API hands each reply to the update it answers, late or not."""

from __future__ import annotations

from bench.botapi import TimedBotApi
from bot.localapi import ApiCall


def _message(chat_id: int, text: str, at: float) -> ApiCall:
    return ApiCall("sendMessage", {"chat_id": chat_id, "text": text}, at=at, result={"message_id": 1})


async def test_a_late_reply_answers_the_update_whose_waiter_gave_up_not_the_next_one():
    api = TimedBotApi()
    first, second = api.expect(7), api.expect(7)
    first.cancel()  # the bench stopped waiting for the first update's answer

    await api.record(_message(7, "late", 1.0))
    assert api.late_replies == 1
    assert not second.done()

    await api.record(_message(7, "on time", 2.0))
    assert second.result().text == "on time"
    assert second.result().at == 2.0


async def test_a_message_nobody_waits_for_goes_to_unawaited():
    seen: list[ApiCall] = []

    class Keeping(TimedBotApi):
        def unawaited(self, call: ApiCall) -> None:
            seen.append(call)

    api = Keeping()
    await api.record(_message(9, "an outbox message", 1.0))
    assert [call.text for call in seen] == ["an outbox message"]
    assert api.late_replies == 0
