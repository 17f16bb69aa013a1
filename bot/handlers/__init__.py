"""One flow per module for drivers (``start``, ``nearby``, ``route``, ``places``, ``place_search``, ``live``),
``staff/`` for staff and admins, and what they share; ``register_all`` wires them in a fixed order."""

from __future__ import annotations

from bot.context import BotApplication
from bot.handlers import check_place, guards, last_location, live, nearby, places, route, start
from bot.handlers.staff import cap_drafts, conversation, emergency, manage, outbox_admin, playbooks

# A group runs only the first of its handlers that matches an update, so each of these has a group of its own:
# sharing one with the conversation sync (``conversation_sync.BEFORE_GROUP``, -3, ahead of them all) would
# hide every location from the sync, and a staff member's location step would meet a stale state on another
# process.
LAST_LOCATION_GROUP = -2  # noted for emergencies, even if flooded
FLOOD_CONTROL_GROUP = -1


def register_all(application: BotApplication) -> None:
    application.add_handlers(last_location.handlers(), group=LAST_LOCATION_GROUP)
    application.add_handlers(guards.handlers(), group=FLOOD_CONTROL_GROUP)  # before every flow
    # A staff member in the middle of /new or /edit: the conversation's states win over the driver flows.
    # /emergency comes first: it must start at once, even for someone half-way through a /new.
    # The buttons under a partner's CAP alert work whatever conversation the staff member is in.
    application.add_handlers(
        [*cap_drafts.handlers(), emergency.conversation(), conversation.conversation(), *manage.handlers()]
    )
    application.add_handlers(playbooks.handlers())
    application.add_handlers(
        [*start.handlers(), *route.handlers(), *places.handlers(), *check_place.handlers(), *live.handlers()]
    )
    application.add_handlers(outbox_admin.handlers())  # /outbox for admins (publishing)
    application.add_handlers(nearby.handlers())
    application.add_error_handler(guards.on_error)
