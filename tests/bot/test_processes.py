"""Two real ``roadbot run --webhook`` processes on one PostgreSQL, behind a load balancer (a trivial proxy
here, routing each update where the test says): what one process or the CLI writes is in the other's
answers and posted by the other's worker within a second — its index polls once an hour and its worker's
idle poll is 30 s, so only the notice can explain it — and a staff member's ``/new`` whose steps alternate
between the two ends with one closure and one channel post, as does an ``/emergency`` whose area is drawn in
the map editor served by the process that did not ask for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import shapely
import sqlalchemy as sa
from shapely.geometry import Polygon
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.config import Settings
from bot.i18n import get_translator
from bot.localapi import ApiCall, FakeUser, LocalBotApi
from bot.services import Services
from bot.web.serving import WebServer
from bot.web.webhook import SECRET_HEADER
from closures.emergency_models import Emergency
from closures.models import Closure
from closures.notices import Notice, NoticeListener
from closures.store import CONVERSATION, make_engine, session_scope
from tests.bot.conftest import load_sample_data
from tests.conftest import ROOT, _empty_postgres

pytestmark = pytest.mark.postgres
ADMIN = FakeUser(777, first_name="Admin", language_code="en")
DRIVER = FakeUser(888, first_name="Driver", language_code="en")
CHANNEL = "@riyadh_roads"
SPOT = (24.7114, 46.6744)  # central Riyadh, lat/lon
TARGET_S = 1.0
WEBAPP = "https://roads.test"  # WEBAPP_URL: the balancer's public HTTPS address, as Telegram opens it


@dataclass
class Balancer:
    """Forwards Telegram's webhook posts to one process or the other: ``to`` names it, or "alternate"."""

    targets: dict[str, str] = field(default_factory=dict)  # name → base URL
    to: str = "alternate"
    routed: list[tuple[int, str]] = field(default_factory=list)  # (update_id, process name)
    _turns: itertools.cycle[str] | None = None

    def app(self) -> Starlette:
        client = httpx.AsyncClient(timeout=30)

        async def forward(request: Request) -> Response:
            if self.to == "alternate":
                self._turns = self._turns or itertools.cycle(sorted(self.targets))
                name = next(self._turns)
            else:
                name = self.to
            body = await request.body()
            self.routed.append((json.loads(body)["update_id"], name))
            answer = await client.post(
                self.targets[name] + request.url.path,
                content=body,
                headers={"content-type": "application/json", SECRET_HEADER: request.headers[SECRET_HEADER]},
            )
            return Response(answer.content, status_code=answer.status_code)

        return Starlette(routes=[Route("/telegram/{path}", forward, methods=["POST"])])


@dataclass
class Cluster:
    api: LocalBotApi
    balancer: Balancer
    database_url: str
    env: dict[str, str]

    async def ask(self, user: FakeUser, text: str) -> ApiCall:
        since = len(self.api.calls)
        self.api.user_sends_text(user, text)
        return await self.reply(user, since)

    async def press(self, user: FakeUser, message: ApiCall, data: str) -> ApiCall:
        since = len(self.api.calls)
        self.api.user_presses_button(user, message.result, data)
        return await self.reply(user, since)

    async def locate(self, user: FakeUser, lat: float, lon: float) -> ApiCall:
        since = len(self.api.calls)
        self.api.user_sends_location(user, lat, lon)
        return await self.reply(user, since)

    async def reply(self, user: FakeUser, since: int) -> ApiCall:
        return await self.api.wait_for(
            lambda c: c.method == "sendMessage" and c.chat_id == user.id, since=since, timeout=30
        )

    async def channel_post(self, since: int, within_s: float) -> ApiCall:
        return await self.api.wait_for(
            lambda c: c.method in ("sendPhoto", "sendMessage") and c.chat_id == CHANNEL,
            since=since,
            timeout=within_s,
        )

    def channel_posts(self) -> list[ApiCall]:
        return [
            c for c in self.api.calls if c.method in ("sendPhoto", "sendMessage") and c.chat_id == CHANNEL
        ]

    async def cli(self, *args: str) -> str:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", *args, env=self.env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode == 0, err.decode()
        return out.decode()

    async def answer_reflects(self, user: FakeUser, expected: bool, title: str, deadline: float) -> float:
        """Ask as ``user`` until the answer does (or does not) name ``title``: when it first did (loop s)."""
        loop = asyncio.get_running_loop()
        while True:
            reply = await self.locate(user, *SPOT)
            if ((title in (reply.text or "")) == expected) or loop.time() > deadline:
                return loop.time()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def cluster(
    bot_api: LocalBotApi, postgres_database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Cluster]:
    """The sample data on PostgreSQL; processes "a" and "b" behind the balancer (a's worker off unless the
    test is marked ``both_workers``)."""
    engine = make_engine(postgres_database)
    _empty_postgres(engine)
    engine.dispose()
    settings = Settings(_env_file=None, database_url=postgres_database, geocoder="none")  # type: ignore[call-arg]
    services = Services.build(settings)
    load_sample_data(services)  # no destinations here: their posts are skipped, the channel stays quiet
    services.close()
    balancer = Balancer()
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TELEGRAM_", "WEBHOOK_", "WEB_", "OUTBOX_"))
        },
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": postgres_database,
        "TELEGRAM_BOT_TOKEN": bot_api.token,
        "TELEGRAM_BASE_URL": bot_api.base_url,
        "TELEGRAM_BASE_FILE_URL": bot_api.base_file_url,
        "ADMIN_USER_IDS": str(ADMIN.id),
        "PUBLISH_DESTINATIONS": json.dumps({"riyadh": {"telegram": [CHANNEL]}}),
        "INDEX_CHECK_INTERVAL_S": "3600",  # only a notice can make the other process's answers fresh
        "GEOCODER": "none",
        "WEBAPP_URL": WEBAPP,
    }
    both = request.node.get_closest_marker("both_workers") is not None
    async with WebServer(balancer.app(), "127.0.0.1", 0) as proxy:
        processes = {}
        try:
            for name in ("a", "b"):
                port = free_port()
                balancer.targets[name] = f"http://127.0.0.1:{port}"
                own = {"OUTBOX_WORKER": "true" if name == "b" or both else "false"}
                since = len(bot_api.calls)
                processes[name] = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bot.cli", "run", "--webhook", proxy.url, "--port", str(port),
                    env=env | own, cwd=tmp_path,
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                )  # fmt: skip
                registered = asyncio.ensure_future(
                    bot_api.wait_for(lambda c: c.method == "setWebhook", since=since, timeout=90)
                )
                exited = asyncio.ensure_future(processes[name].wait())
                await asyncio.wait({registered, exited}, return_when=asyncio.FIRST_COMPLETED)
                assert not exited.done(), (await processes[name].stderr.read()).decode()  # type: ignore[union-attr]
                await registered
            yield Cluster(bot_api, balancer, postgres_database, env)
        finally:
            for process in processes.values():
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
            for process in processes.values():
                try:
                    _, err = await asyncio.wait_for(process.communicate(), timeout=30)
                except TimeoutError:
                    process.kill()
                    await process.wait()
                    continue
                assert "Traceback" not in err.decode(), err.decode()


async def test_a_write_by_the_cli_or_the_other_process_is_answered_and_posted_here_within_a_second(
    cluster: Cluster,
):
    loop = asyncio.get_running_loop()
    title = "Test closure at the roundabout"
    cluster.balancer.to = "b"
    before = await cluster.locate(DRIVER, *SPOT)
    assert title not in (before.text or "")

    since = len(cluster.api.calls)
    added = await cluster.cli(
        "closure", "add", "--municipality", "riyadh", "--geometry", f"{SPOT[0]},{SPOT[1]}",
        "--reason", "roadworks", "--title-ar", "إغلاق تجريبي", "--title-en", title, "--start", "now",
        "--end", "3h", "--json",
    )  # fmt: skip
    written = loop.time()
    feature = json.loads(added)
    closure_id = int(feature.get("id") or feature["properties"]["id"])
    post = await cluster.channel_post(since, within_s=TARGET_S + 1)
    posted = loop.time()
    seen = await cluster.answer_reflects(DRIVER, True, title, written + TARGET_S)
    assert "إغلاق تجريبي" in (post.text or "")
    assert posted - written < TARGET_S, f"b's worker posted the CLI's closure {posted - written:.2f} s later"
    assert seen - written < TARGET_S, f"b's answers showed it {seen - written:.2f} s later"

    cluster.balancer.to = "a"  # the staff member's command lands on the other process
    since = len(cluster.api.calls)
    question = await cluster.ask(ADMIN, f"/lift {closure_id}")  # shows the post, and asks first
    keyboard = question.params["reply_markup"]["inline_keyboard"]
    [yes] = [b["callback_data"] for row in keyboard for b in row if b["callback_data"].startswith("sq:lift:")]
    lifted = await cluster.press(ADMIN, question, yes)
    written = loop.time()
    assert str(closure_id) in (lifted.text or "")
    cluster.balancer.to = "b"
    post = await cluster.channel_post(since, within_s=TARGET_S + 1)
    posted = loop.time()
    gone = await cluster.answer_reflects(DRIVER, False, title, written + TARGET_S)
    assert posted - written < TARGET_S, f"b's worker posted a's lift {posted - written:.2f} s later"
    assert gone - written < TARGET_S, f"b's answers dropped it {gone - written:.2f} s later"
    assert {name for _, name in cluster.balancer.routed} == {"a", "b"}
    assert len(cluster.channel_posts()) == 2  # the announcement and the lift, once each


@contextlib.asynccontextmanager
async def step_writes(cluster: Cluster, user: FakeUser) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """``stored()``: wait until the process that took ``user``'s last step has written it (a person is slower
    than this), heard as the other processes hear it."""
    heard: asyncio.Queue[Notice] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    listener = NoticeListener(make_engine(cluster.database_url))
    listener.subscribe(
        lambda n: loop.call_soon_threadsafe(heard.put_nowait, n) if n.topic == CONVERSATION else None
    )
    listener.start()
    assert await asyncio.to_thread(listener.wait_until, lambda: listener.listening, 10)

    async def stored() -> None:
        notice = await asyncio.wait_for(heard.get(), timeout=10)
        assert notice.detail == str(user.id)
        while not heard.empty():
            heard.get_nowait()

    try:
        yield stored
    finally:
        listener.stop()


@pytest.mark.both_workers
async def test_a_new_closure_whose_steps_alternate_between_processes_is_registered_and_posted_once(
    cluster: Cluster,
):
    async with step_writes(cluster, ADMIN) as stored:
        await cluster.ask(ADMIN, "/new")
        await stored()
        answer = await cluster.locate(ADMIN, *SPOT)
        await stored()
        answer = await cluster.press(ADMIN, answer, "sg:r:100")
        await stored()
        for data in ("sr:roadworks", "ss:full", "sd:both", "st:now"):
            answer = await cluster.press(ADMIN, answer, data)
            await stored()
        answer = await cluster.ask(ADMIN, "3h")
        await stored()
        answer = await cluster.press(ADMIN, answer, "sx:skip")
        await stored()
        answer = await cluster.ask(
            ADMIN, "Khurais Rd underpass closed"
        )  # no geocoder here: no title to propose
        await stored()
        answer = await cluster.press(ADMIN, answer, "te:skip")
        await stored()
        since = len(cluster.api.calls)
        confirmed = await cluster.press(ADMIN, answer, "sv:confirm")
        post = await cluster.channel_post(since, within_s=10)

    closure_id = int(re.search(r"#(\d+)", confirmed.text or "")[1])  # type: ignore[index]
    engine = make_engine(cluster.database_url)
    with session_scope(engine) as session:
        closure = session.get(Closure, closure_id)
        assert closure is not None
        newer = session.execute(sa.select(sa.func.count()).where(Closure.id >= closure_id)).scalar_one()
    engine.dispose()
    assert newer == 1  # one closure, however many processes took its steps
    assert closure.title_ar in (post.text or "")
    routed = [name for _, name in cluster.balancer.routed]
    assert routed[:4] == ["a", "b", "a", "b"]  # the steps did alternate
    await cluster.ask(ADMIN, "/list")  # one more round trip: both workers have had their chance to post twice
    assert len(cluster.channel_posts()) == 1


async def test_an_emergency_whose_area_is_drawn_on_the_other_process_is_declared_once(cluster: Cluster):
    """The area question asked by process a; the map editor's drawing posted to process b's web server, whose
    Application takes it with the conversation and draft a wrote; the remaining steps alternate."""
    en = get_translator("en")
    cluster.balancer.to = "a"
    area = [[46.67, 24.70], [46.69, 24.70], [46.69, 24.72], [46.67, 24.72], [46.67, 24.70]]
    async with step_writes(cluster, ADMIN) as stored:
        which = await cluster.ask(ADMIN, "/emergency")  # an admin of every municipality: which one?
        await stored()
        rows = which.params["reply_markup"]["inline_keyboard"]
        riyadh = next(b["callback_data"] for row in rows for b in row if "Riyadh" in b["text"])
        question = await cluster.press(ADMIN, which, riyadh)
        await stored()
        launch = cluster.api.user_opens_web_app(ADMIN, question.result)
        query = parse_qs(urlsplit(launch.url).query)
        drawing = {
            "initData": launch.init_data, "geometry": {"type": "Polygon", "coordinates": [area]},
            "radius_m": None, "draft": query["d"][0], "closure": None, "emergency": int(query["e"][0]),
        }  # fmt: skip
        since = len(cluster.api.calls)
        async with httpx.AsyncClient(base_url=cluster.balancer.targets["b"], timeout=30) as http:
            sent = await http.post("/webapp/drawing?lang=en", json=drawing)
        assert sent.status_code == 200, sent.text
        answer = await cluster.reply(ADMIN, since)
        assert answer.text == en.t("emergency.ask.hazard")
        await stored()
        cluster.balancer.to = "alternate"
        for data in ("eh:flood", "el:warning", "et:headline_ar", "et:headline_en", "et:instruction_ar",
                     "et:instruction_en", "ex:6", "ev:confirm"):  # fmt: skip
            answer = await cluster.press(ADMIN, answer, data)
            await stored()

    engine = make_engine(cluster.database_url)
    with session_scope(engine) as session:
        (declared,) = session.execute(sa.select(Emergency)).scalars().all()  # one, from every process
    engine.dispose()
    assert answer.text == en.t("emergency.declared", id=declared.first_id)
    assert shapely.from_geojson(declared.area_geojson).equals(Polygon(area))
    assert {name for _, name in cluster.balancer.routed} == {"a", "b"}
