"""A local, Telegram-compatible Bot API server for tests and the offline playground (``roadbot chat``).

A real PTB ``Application`` talks to it over HTTP exactly as it talks to Telegram; simulated users queue
updates, and every call the bot makes is recorded::

    async with LocalBotApi() as api:
        builder = ApplicationBuilder().token(api.token).base_url(api.base_url)
        app = builder.base_file_url(api.base_file_url).build()
        ...
        api.user_sends_location(FakeUser(42), 24.7136, 46.6753)
        reply = await api.wait_for(lambda call: call.method == "sendMessage" and call.chat_id == 42)

Modules: ``server`` (HTTP, recording, fault injection), ``methods`` (the Bot API methods), ``pins``
(pinning), ``users`` (simulated users), ``state`` (chats, messages, files, updates), ``html`` (Telegram's
HTML check), ``webapps`` (Mini App buttons and the signed initData of a page opened from one).
"""

from bot.localapi.calls import ApiCall
from bot.localapi.server import LocalBotApi
from bot.localapi.state import ApiError, StoredFile, Upload
from bot.localapi.users import FakeUser
from bot.localapi.webapps import WebAppLaunch

__all__ = ["ApiCall", "ApiError", "FakeUser", "LocalBotApi", "StoredFile", "Upload", "WebAppLaunch"]
