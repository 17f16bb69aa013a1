"""One flow per module; ``register_all`` wires them into the Application in a fixed order."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.handlers import drivers, errors, live, places, route, start

if TYPE_CHECKING:
    from bot.app import BotApplication


def register_all(application: BotApplication) -> None:
    application.add_handlers(errors.handlers(), group=-1)  # flood control runs before everything
    application.add_handlers([*start.handlers(), *route.handlers(), *places.handlers(), *live.handlers()])
    application.add_handlers(drivers.handlers())
    application.add_error_handler(errors.on_error)  # type: ignore[arg-type]
