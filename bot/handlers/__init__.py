"""One flow per module; ``register_all`` wires them into the Application in a fixed order."""

from __future__ import annotations

from bot.context import BotApplication
from bot.handlers import drivers, errors, live, outbox_admin, places, route, staff_admin, staff_new, start


def register_all(application: BotApplication) -> None:
    application.add_handlers(errors.handlers(), group=-1)  # flood control runs before everything
    # A staff member in the middle of /new or /edit: the conversation's states win over the driver flows.
    application.add_handlers([staff_new.conversation(), *staff_admin.handlers()])
    application.add_handlers([*start.handlers(), *route.handlers(), *places.handlers(), *live.handlers()])
    application.add_handlers(outbox_admin.handlers())  # /outbox for admins (publishing)
    application.add_handlers(drivers.handlers())
    application.add_error_handler(errors.on_error)  # type: ignore[arg-type]
