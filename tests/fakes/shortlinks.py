"""A stand-in for the map providers' short-link hosts on 127.0.0.1: each path answers with the redirect a
real short link gives (to the full map link, to another short host, or somewhere it must not lead)."""

from __future__ import annotations

from tests.fakes.local_http import LocalHTTPServer, QuietHandler

KINGDOM_LINK = (
    "https://www.google.com/maps/place/Kingdom+Centre/@24.7114,46.6744,17z/data=!3d24.7114!4d46.6744"
)
REDIRECTS = {
    "/kingdom": KINGDOM_LINK,  # maps.app.goo.gl/kingdom → the full Google Maps link
    "/maps/hop": "https://maps.app.goo.gl/kingdom",  # goo.gl/maps/hop → another short link → the place
    "/p/olaya": "https://maps.apple.com/?ll=24.6950,46.6850&q=Olaya",  # maps.apple/p/olaya
    "/elsewhere": "http://127.0.0.1:9/internal",  # off the providers' hosts: never followed
    "/nowhere": "https://www.google.com/maps/search/some+place",  # a map link without coordinates
    "/loop": "https://maps.app.goo.gl/loop",
}


class ShortLinkServer(LocalHTTPServer):
    """Answers the paths of every short host (the resolver sends them all here); ``/slow`` never in time."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []  # (Host header, path)
        server = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                server.requests.append((self.headers.get("Host", ""), self.path))
                if self.path == "/slow":
                    server.stopping.wait(10)
                    return
                target = REDIRECTS.get(self.path)
                self.send_response(302 if target else 404)
                if target:
                    self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()

        super().__init__(Handler)
