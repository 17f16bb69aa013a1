"""One way to run a quiet, threaded HTTP stand-in on 127.0.0.1 on a free port, shared by the test fakes.

The tile, Nominatim, partner-feed and routing stand-ins subclass :class:`LocalHTTPServer` with their own
request handler (a :class:`QuietHandler`), so starting, stopping and error reporting live in one place.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that does not log each request to stderr."""

    def log_message(self, format: str, *args: object) -> None:
        return


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that gave up (a timeout or a size limit under test) is expected; anything else is not."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class LocalHTTPServer:
    """An HTTP server bound to 127.0.0.1 on a free port, serving ``handler`` while ``running()``.

    ``stopping`` is set at shutdown so that a request the test holds on purpose ends then.
    """

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.stopping = threading.Event()
        self._httpd = _QuietServer(("127.0.0.1", 0), handler)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url_for(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _release_held(self) -> None:
        """Lets requests held on purpose end at shutdown; a subclass waiting on other events sets them too."""
        self.stopping.set()

    @contextmanager
    def running(self) -> Iterator[Self]:
        """Serves in a background thread; on exit releases held requests, stops and closes the server."""
        thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._release_held()
            self._httpd.shutdown()
            self._httpd.server_close()
            thread.join(timeout=5)
