"""Bot API requests as they arrive over HTTP, and answers as Telegram shapes them."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bot.localapi.state import JSON, Upload

# Parameters whose values are strings even when they look like JSON ("123" stays "123").
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "title",
        "address",
        "callback_query_id",
        "file_id",
        "url",
        "action",
        "secret_token",
        "emoji",
        "description",
        "short_description",
        "language_code",
        "inline_message_id",
        "business_connection_id",
    }
)


def answer(body: JSON, status: int) -> web.Response:
    return web.json_response(body, status=status, dumps=lambda obj: json.dumps(obj, ensure_ascii=False))


def decode(name: str, value: str) -> Any:
    """A form value as Telegram reads it: JSON for objects, numbers and booleans; strings stay strings."""
    if name in _STRING_PARAMS or not value:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


async def read_params(request: web.Request) -> JSON:
    """Query string, then a JSON, form or multipart body; ``attach://name`` points at an uploaded part."""
    params: JSON = {key: decode(key, value) for key, value in request.query.items()}
    if request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("the JSON body must be an object")
            params.update(body)
        else:
            for key, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    params[key] = Upload(value.filename, value.file.read(), value.content_type)
                else:
                    params[key] = decode(key, str(value))
    for key, value in list(params.items()):
        if isinstance(value, str) and value.startswith("attach://") and value[9:] in params:
            params[key] = params.pop(value[9:])
    return params
