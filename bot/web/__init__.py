"""The HTTP side of the bot: the live map, the open-data feeds, /health and /metrics, Telegram's webhook, all
in one Starlette app (``site``) served by uvicorn inside the bot's event loop (``serving``); and the partner
feeds that the same process polls (``partners``)."""
