"""A local map tile server on 127.0.0.1 serving real PNG tiles it draws itself, with fault switches."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

from tests.fakes.local_http import LocalHTTPServer, QuietHandler

TILE_COLOUR = (120, 170, 220)  # every tile is this blue, with a darker border and its z/x/y written on it


def tile_png(z: int, x: int, y: int) -> bytes:
    image = Image.new("RGB", (256, 256), TILE_COLOUR)
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, 255, 255], outline=(60, 90, 130), width=2)
    draw.text((10, 10), f"{z}/{x}/{y}", fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


class TileServer(LocalHTTPServer):
    """``url_template`` for geo.render; ``requests`` lists the tile paths asked for; ``mode`` injects faults:
    "ok", "error" (500), "garbage" (200 with bytes that are not a PNG), "slow" (answers after ``delay_s``)."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.mode = "ok"
        self.delay_s = 2.0
        server = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                if server.mode == "slow":
                    server.stopping.wait(server.delay_s)  # slower than the client waits; ends at shutdown
                if server.mode == "error":
                    self.send_error(500)
                    return
                try:
                    z, x, y = (int(p) for p in self.path.removesuffix(".png").strip("/").split("/"))
                except ValueError:
                    self.send_error(404)
                    return
                body = b"not a png" if server.mode == "garbage" else tile_png(z, x, y)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(Handler)

    @property
    def url_template(self) -> str:
        return self.url_for("/{z}/{x}/{y}.png")
