"""One flow per module for drivers (``start``, ``nearby``, ``route``, ``places``, ``place_search``, ``live``),
``staff/`` for staff and admins, and what they share; ``register_all`` wires them in a fixed order."""

from __future__ import annotations

from bot.context import BotApplication
from bot.handlers import guards, last_location, live, nearby, places, route, start
from bot.handlers.staff import cap_drafts, conversation, emergency, manage, outbox_admin, playbooks


def register_all(application: BotApplication) -> None:
    application.add_handlers(last_location.handlers(), group=-2)  # noted for emergencies, even if flooded
    application.add_handlers(guards.handlers(), group=-1)  # flood control runs before everything
    # A staff member in the middle of /new or /edit: the conversation's states win over the driver flows.
    # /emergency comes first: it must start at once, even for someone half-way through a /new.
    # The buttons under a partner's CAP alert work whatever conversation the staff member is in.
    application.add_handlers(
        [*cap_drafts.handlers(), emergency.conversation(), conversation.conversation(), *manage.handlers()]
    )
    application.add_handlers(playbooks.handlers())
    application.add_handlers([*start.handlers(), *route.handlers(), *places.handlers(), *live.handlers()])
    application.add_handlers(outbox_admin.handlers())  # /outbox for admins (publishing)
    application.add_handlers(nearby.handlers())
    application.add_error_handler(guards.on_error)
