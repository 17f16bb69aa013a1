"""The typed context every handler receives, and the Application type built with it.

No handler is imported here, so any module may import these types at run time without a circle.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, cast

from telegram import Update
from telegram.ext import Application, BaseHandler, CallbackContext, ExtBot

from bot.services import Services


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """The callback context every handler receives, with the services as a typed property."""

    @property
    def services(self) -> Services:
        return cast(Services, self.application.bot_data["services"])


type BotApplication = Application[
    ExtBot[None], BotContext, dict[Any, Any], dict[Any, Any], dict[Any, Any], Any
]
type BotHandler = BaseHandler[Update, BotContext, Any]  # what each flow's ``handlers()`` lists
type BotCallback = Callable[[Update, BotContext], Coroutine[Any, Any, object]]  # what a handler calls
