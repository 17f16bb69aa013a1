"""A neighbouring agency's feed server on 127.0.0.1: serves whatever body the test sets, with fault switches.

``mode``: "ok" (200 with ``body``), "error" (500), "slow" (answers only at shutdown: the client times out),
"huge" (declares and streams more bytes than any limit), "chunked-huge" (streams them with no length).
``paths`` serves other bodies at other paths (a CAP feed and the alerts it links to), ``failing`` paths
answer 500; with ``etags`` on,
every body goes out with an ETag and a matching ``If-None-Match`` gets a 304.
"""

from __future__ import annotations

import hashlib
import threading

from tests.fakes.local_http import LocalHTTPServer, QuietHandler


class PartnerFeedServer(LocalHTTPServer):
    def __init__(self) -> None:
        self.body = b""
        self.content_type = "application/json"
        self.mode = "ok"
        self.paths: dict[str, bytes] = {}
        self.failing: set[str] = set()  # paths answered 500 whatever the mode
        self.etags = False
        self.requests: list[str] = []
        self._requested = threading.Condition()
        self.not_modified: list[str] = []  # the paths answered 304
        server = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with server._requested:
                    server.requests.append(self.path)
                    server._requested.notify_all()
                if server.mode == "slow":
                    server.stopping.wait()  # never answers while the test runs; ends at shutdown
                    return
                if server.mode == "error" or self.path.split("?")[0] in server.failing:
                    self.send_error(500)
                    return
                if server.mode in ("huge", "chunked-huge"):
                    self._huge(chunked=server.mode == "chunked-huge")
                    return
                path = self.path.split("?")[0]
                body = server.paths.get(path, server.body)
                tag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
                if server.etags and self.headers.get("If-None-Match") == tag:
                    server.not_modified.append(path)
                    self.send_response(304)
                    self.send_header("ETag", tag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", server.content_type)
                self.send_header("Content-Length", str(len(body)))
                if server.etags:
                    self.send_header("ETag", tag)
                self.end_headers()
                self.wfile.write(body)

            def _huge(self, *, chunked: bool) -> None:
                block = b" " * 65536
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                if chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.send_header("Content-Length", str(64 * len(block)))
                self.end_headers()
                for _ in range(64):
                    if chunked:
                        self.wfile.write(f"{len(block):x}\r\n".encode() + block + b"\r\n")
                    else:
                        self.wfile.write(block)
                if chunked:
                    self.wfile.write(b"0\r\n\r\n")

        super().__init__(Handler)

    def url(self, path: str = "/feed") -> str:
        return self.url_for(path)

    def wait_for_requests(self, n: int, timeout: float) -> int:
        """Block until ``n`` requests have come (TimeoutError after ``timeout`` s); how many came."""
        with self._requested:
            if not self._requested.wait_for(lambda: len(self.requests) >= n, timeout):
                raise TimeoutError(f"{len(self.requests)} of {n} requests within {timeout} s")
            return len(self.requests)
