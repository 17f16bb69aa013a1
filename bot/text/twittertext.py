"""twitter-text-parser (X's rules for a post's weighted length), loaded without setuptools.

twitter-text-parser 3.0 reads one data file while it is imported, ``twitter_text/regexp/emoji-test.txt``,
with ``pkg_resources.resource_string``; ``pkg_resources`` left setuptools in version 81, and a service
should not hold setuptools back for one call. So, unless a real ``pkg_resources`` is loaded already, that
import is given a stand-in module whose only function reads the file through ``importlib.resources``, and
the stand-in is taken away again as soon as the import is done.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import cast

__all__ = ["parse_tweet", "pkg_resources_stand_in", "resource_string"]
_ABSENT = object()


def resource_string(package: str, name: str) -> bytes:
    """``pkg_resources.resource_string`` as twitter-text-parser calls it: the bytes of a file beside a
    module of ``package``."""
    return resources.files(package).joinpath(name).read_bytes()


@contextmanager
def pkg_resources_stand_in() -> Iterator[None]:
    """Within the block, ``import pkg_resources`` finds a module holding ``resource_string`` only."""
    if sys.modules.get("pkg_resources") is not None:  # the real one is loaded: leave it be
        yield
        return
    saved = sys.modules.pop("pkg_resources", _ABSENT)  # absent, or None: blocked on purpose
    stand_in = types.ModuleType("pkg_resources", "twitter-text-parser's one need of pkg_resources")
    stand_in.__dict__["resource_string"] = resource_string
    sys.modules["pkg_resources"] = stand_in
    try:
        yield
    finally:
        if sys.modules.get("pkg_resources") is stand_in:
            del sys.modules["pkg_resources"]
            if saved is not _ABSENT:
                sys.modules["pkg_resources"] = cast(types.ModuleType, saved)


with pkg_resources_stand_in():
    from twitter_text import parse_tweet
