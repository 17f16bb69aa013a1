"""Telegram's HTML parse mode: the tags it accepts, checked and turned into message entities.

The Bot API refuses text it cannot parse with ``400 Bad Request: can't parse entities: …``; this module
finds the same mistakes (unsupported or unbalanced tags, a stray ``<``) so a bot that passes the local
server's check will not be refused by Telegram for its markup.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

# tag → entity type (https://core.telegram.org/bots/api#html-style)
_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class HtmlEntityError(ValueError):
    """Text Telegram would refuse in HTML parse mode; the message is Telegram's wording after the colon."""


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's entity offsets.

    >>> utf16_length("طريق 🚧")
    7
    """
    return len(text.encode("utf-16-le")) // 2


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Return the plain text and the entities Telegram makes of ``text`` in HTML parse mode.

    >>> parse_html("<b>مغلق</b> &amp; بطيء")
    ('مغلق & بطيء', [{'type': 'bold', 'offset': 0, 'length': 4}])
    >>> parse_html("<b>open")
    Traceback (most recent call last):
    ...
    bot.localapi.html.HtmlEntityError: Can't find end tag corresponding to start tag "b"
    """
    parser = _TelegramHtml(text)
    parser.feed(text)
    parser.close()
    if parser.stack:
        raise HtmlEntityError(f'Can\'t find end tag corresponding to start tag "{parser.stack[-1][0]}"')
    entities = sorted(parser.entities, key=lambda e: (e["offset"], -e["length"]))
    return "".join(parser.parts), entities


class _TelegramHtml(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=False)
        self.source = source
        self.line_starts = [0]
        for index, char in enumerate(source):
            if char == "\n":
                self.line_starts.append(index + 1)
        self.parts: list[str] = []
        self.position = 0  # in UTF-16 code units
        self.stack: list[tuple[str, int, dict[str, Any]]] = []  # tag, start, entity extras
        self.entities: list[dict[str, Any]] = []

    def byte_offset(self, extra_chars: int = 0) -> int:
        line, column = self.getpos()
        index = self.line_starts[line - 1] + column + extra_chars
        return len(self.source[:index].encode())

    def fail(self, message: str) -> None:
        raise HtmlEntityError(message)

    def emit(self, text: str) -> None:
        self.parts.append(text)
        self.position += utf16_length(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _ENTITY_TYPES:
            self.fail(f'Unsupported start tag "{tag}" at byte offset {self.byte_offset()}')
        values = dict(attrs)
        extras: dict[str, Any] = {}
        if tag == "span" and values.get("class") != "tg-spoiler":
            self.fail(f'Tag "span" must have class "tg-spoiler" at byte offset {self.byte_offset()}')
        if tag == "a" and values.get("href"):
            extras["url"] = values["href"]
        if tag == "tg-emoji":
            if not values.get("emoji-id"):
                self.fail(f'Tag "tg-emoji" must have "emoji-id" at byte offset {self.byte_offset()}')
            extras["custom_emoji_id"] = values["emoji-id"]
        if tag == "blockquote" and "expandable" in values:
            extras["type"] = "expandable_blockquote"
        if tag == "code" and (values.get("class") or "").startswith("language-"):
            extras["language"] = (values["class"] or "").removeprefix("language-")
        self.stack.append((tag, self.position, extras))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack:
            self.fail(f"Unexpected end tag at byte offset {self.byte_offset()}")
        open_tag, start, extras = self.stack.pop()
        if open_tag != tag:
            self.fail(
                f'Unmatched end tag at byte offset {self.byte_offset()}, expected "</{open_tag}>", '
                f'found "</{tag}>"'
            )
        if tag == "code" and "language" in extras:
            language = extras.pop("language")
            if self.stack and self.stack[-1][0] == "pre":
                self.stack[-1][2]["language"] = language  # <pre><code class="language-x"> is one pre entity
                return
        if tag == "a" and "url" not in extras:
            return  # a link without href is plain text
        length = self.position - start
        if length:
            self.entities.append({"type": _ENTITY_TYPES[tag], "offset": start, "length": length, **extras})

    def handle_data(self, data: str) -> None:
        stray = data.find("<")
        if stray >= 0:
            self.fail(f'Unsupported start tag "" at byte offset {self.byte_offset(stray)}')
        self.emit(data)

    def handle_entityref(self, name: str) -> None:
        self.emit(_NAMED_ENTITIES.get(name, f"&{name};"))

    def handle_charref(self, name: str) -> None:
        try:
            code = int(name[1:], 16) if name[:1] in ("x", "X") else int(name)
            self.emit(chr(code))
        except (ValueError, OverflowError):
            self.emit(f"&#{name};")

    def handle_comment(self, data: str) -> None:
        self.fail(f'Unsupported start tag "!--" at byte offset {self.byte_offset()}')

    def handle_decl(self, decl: str) -> None:
        self.fail(f'Unsupported start tag "!" at byte offset {self.byte_offset()}')

    def handle_pi(self, data: str) -> None:
        self.fail(f'Unsupported start tag "?" at byte offset {self.byte_offset()}')

    def unknown_decl(self, data: str) -> None:
        self.handle_decl(data)
