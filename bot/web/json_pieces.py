"""Compact JSON for a big body, encoded a list item at a time so that no one call holds the GIL for long.

``json.dumps`` runs in C and keeps the GIL for the whole call: a feed of 10,000 closures (5-10 MB) is one
call of a few hundred milliseconds, during which the event loop's thread cannot run even though the build
is in a worker thread — a stall for every reply and request. Encoding the items of the big lists one call
each gives the loop its turn between them (at the interpreter's switch interval) and yields the same bytes.

Freeing is the same story backwards: the last reference to 10,000 features' dictionaries going away frees
hundreds of thousands of objects inside one call (measured ~250 ms for 100,000 small nested dictionaries),
so ``release_in_steps`` empties a built value's long lists a slice at a time once it is encoded.
"""

from __future__ import annotations

import json
from typing import Any

BIG = 64  # lists longer than this are encoded item by item
STEP = 256  # items freed per slice by release_in_steps


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def compact_json(value: Any) -> bytes:
    """``json.dumps(value, ensure_ascii=False, separators=(",", ":"))`` in UTF-8, the same bytes, with the
    items of long lists (at the top or in a top-level object) encoded one call each."""
    return "".join(_pieces(value, depth=2)).encode("utf-8")


def _pieces(value: Any, *, depth: int) -> list[str]:
    if depth > 0 and isinstance(value, dict) and all(isinstance(key, str) for key in value):
        out = ["{"]
        for i, (key, item) in enumerate(value.items()):
            out.append(("," if i else "") + _dumps(key) + ":")
            out.extend(_pieces(item, depth=depth - 1))
        out.append("}")
        return out
    if depth > 0 and isinstance(value, list) and len(value) > BIG:
        out = ["["]
        out.extend(("," if i else "") + _dumps(item) for i, item in enumerate(value))
        out.append("]")
        return out
    return [_dumps(value)]


def release_in_steps(value: Any) -> None:
    """Empty the long lists of ``value`` (at the top or in a top-level object), ``STEP`` items at a time, so
    that freeing them is many short calls; for a value built only to be encoded, once it has been."""
    _release(value, depth=2)


def _release(value: Any, *, depth: int) -> None:
    if depth <= 0:
        return
    if isinstance(value, dict):
        for item in value.values():
            _release(item, depth=depth - 1)
    elif isinstance(value, list) and len(value) > BIG:
        while value:
            del value[-STEP:]
