"""Mini Apps as Telegram handles them: which ``web_app`` buttons it accepts, and the signed ``initData`` it
gives a page opened from one.

Telegram refuses a ``web_app`` button whose URL is not HTTPS (400) and, in an inline keyboard, one sent
outside a private chat (``BUTTON_TYPE_INVALID``). Opening such a button, a person's app loads the URL with
Telegram's launch parameters after ``#`` (``tgWebAppData`` = the ``initData``, signed with a key derived
from the bot token as Telegram's Mini Apps documentation describes).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from bot.localapi.state import JSON, bad_request

WEB_APP_VERSION = "8.0"


@dataclass(frozen=True)
class WebAppLaunch:
    """A Mini App as a person's Telegram opens it: the button's URL and the initData handed to the page."""

    url: str
    init_data: str
    query_id: str

    @property
    def url_with_launch_params(self) -> str:
        """The URL as Telegram loads it, with the launch parameters in its fragment."""
        params = f"tgWebAppData={quote(self.init_data, safe='')}&tgWebAppVersion={WEB_APP_VERSION}"
        return f"{self.url}#{params}&tgWebAppPlatform=unknown"


def check_web_app_buttons(markup: object, chat_type: str) -> None:
    """Refuse ``web_app`` buttons Telegram would refuse in ``markup`` sent to a chat of ``chat_type``."""
    if not isinstance(markup, dict):
        return
    inline = [b for row in markup.get("inline_keyboard", []) for b in row if isinstance(b, dict)]
    keyboard = [b for row in markup.get("keyboard", []) for b in row if isinstance(b, dict)]
    for kind, buttons in (("inline keyboard", inline), ("keyboard", keyboard)):
        for button in buttons:
            if "web_app" not in button:
                continue
            if chat_type != "private":
                raise bad_request("BUTTON_TYPE_INVALID")
            check_web_app_url(f"{kind} button Web App URL", button["web_app"])


def check_web_app_url(what: str, web_app: object) -> None:
    url = str(web_app.get("url", "")) if isinstance(web_app, dict) else ""
    if not url.startswith("https://") or len(url) <= len("https://"):
        raise bad_request(f"{what} '{url}' is invalid: Only HTTPS links are allowed")


def sign_init_data(bot_token: str, fields: dict[str, str]) -> str:
    """``fields`` as Telegram's initData: URL-encoded, with the ``hash`` Telegram computes over them."""
    check = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    signature = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode({**fields, "hash": signature})


def launch(bot_token: str, url: str, user: JSON, *, auth_date: float | None = None) -> WebAppLaunch:
    """What Telegram hands the page at ``url`` opened by ``user`` (a Bot API User) at ``auth_date``."""
    query_id = "AA" + secrets.token_urlsafe(16)
    keys = ("id", "first_name", "last_name", "username", "language_code")
    web_app_user = {key: user[key] for key in keys if key in user}
    web_app_user["allows_write_to_pm"] = True
    fields = {
        "query_id": query_id,
        "user": json.dumps(web_app_user, ensure_ascii=False, separators=(",", ":")),
        "auth_date": str(int(time.time() if auth_date is None else auth_date)),
    }
    return WebAppLaunch(url, sign_init_data(bot_token, fields), query_id)
