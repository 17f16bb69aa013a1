"""``bench.flood``'s bot, in a process of its own: ``roadbot run``'s bot (the PTB Application long-polling the
local Bot API, its outbox worker, the web server; the rate limit off) and the operator's hands on it.

The bench runs the local Bot API and the simulated drivers in its own process, as Telegram and the drivers
are outside the bot's in production; this process is the bot alone, so what it sustains is one bot
process's figure, not one shared with its stand-ins. Started by :func:`bot_process`; it speaks JSON lines:
first it reads its setup (the database URL, the Bot API's URLs and token, the emergency's area as WKT), and
writes ``{"web_url": …}`` once the bot is up; then each line in is a request ``{"id": n, "do": …}`` and
each line out the answer ``{"id": n, …}`` (``{"id": n, "error": …}`` if it failed), requests running
concurrently:

* ``lag_start`` / ``lag_stop``: watch this process's event loop (``bot.looplag``) and its CPU time; stop
  answers the stalls and the CPU seconds spent meanwhile (all its threads);
* ``declare``: the operator confirms the flood (``EmergencyService.declare`` with the playbook);
* ``import``: a partner's file (a path) applied as a poll applies it;
* ``update``: a new instruction for the emergency ``first_id``;
* ``stop``: the bot stops and the process ends.

Times are ``time.monotonic()``, the same clock in both processes on Linux (CLOCK_MONOTONIC).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import shapely
from pydantic import SecretStr

from bench.flood_day import import_closures, running_bot
from bench.flood_scenario import declaration
from bot.config import Settings
from bot.gc_tuning import settle
from bot.localapi import LocalBotApi
from bot.looplag import LoopLag
from bot.services import Services
from closures.service import Actor

STALL_MS = 100.0
START_TIMEOUT_S = 120.0
ROOT = Path(__file__).resolve().parents[1]  # where ``-m bench.flood_bot`` is found


class BotProcess:
    """The parent's side: requests to the bot's process, answered in any order."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self._next = 0
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self.pid = 0  # the bot's process, once ready

    async def ready(self) -> str:
        line = await asyncio.wait_for(self._readline(), START_TIMEOUT_S)
        if line is None:
            code = await self._process.wait()
            raise RuntimeError(f"the bench's bot process ended before it started (exit {code})")
        self._reader = asyncio.create_task(self._read())
        self.pid = int(line["pid"])
        return str(line["web_url"])

    async def ask(self, do: str, **params: Any) -> dict[str, Any]:
        self._next += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[self._next] = future
        assert self._process.stdin is not None
        self._process.stdin.write((json.dumps({"id": self._next, "do": do, **params}) + "\n").encode())
        await self._process.stdin.drain()
        answer = await future
        if "error" in answer:
            raise RuntimeError(f"the bench's bot process failed to {do}: {answer['error']}")
        return answer

    async def _readline(self) -> dict[str, Any] | None:
        assert self._process.stdout is not None
        line = await self._process.stdout.readline()
        return json.loads(line) if line else None

    async def _read(self) -> None:
        while (answer := await self._readline()) is not None:
            future = self._waiting.pop(int(answer["id"]), None)
            if future is not None and not future.done():
                future.set_result(answer)
        for future in self._waiting.values():  # the process ended: nobody waits for ever
            if not future.done():
                future.set_result({"error": f"the process ended (exit {self._process.returncode})"})


@contextlib.asynccontextmanager
async def bot_process(
    api: LocalBotApi, url: str, *, area: shapely.Polygon, operator_id: int, tmp: Path
) -> AsyncIterator[tuple[BotProcess, str]]:
    """The bot in a child process on ``url`` against ``api``; yields it and its web server's URL."""
    log = (tmp / "flood-bot.log").open("wb")  # its logs: stdout is the JSON channel
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.flood_bot",
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd=ROOT,
    )  # fmt: skip
    log.close()  # the child holds its own copy
    setup = {
        "url": url, "token": api.token, "base_url": api.base_url, "base_file_url": api.base_file_url,
        "area": area.wkt, "operator_id": operator_id,
    }  # fmt: skip
    assert process.stdin is not None
    process.stdin.write((json.dumps(setup) + "\n").encode())
    bot = BotProcess(process)
    try:
        web_url = await bot.ready()
        yield bot, web_url
        await bot.ask("stop")
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), 60)
            except TimeoutError:
                process.kill()
                await process.wait()


# -- the child's side ------------------------------------------------------------------------------------


async def _serve(setup: dict[str, Any]) -> None:
    settings = Settings(
        _env_file=None, database_url=setup["url"], telegram_bot_token=SecretStr(setup["token"]),
        telegram_base_url=setup["base_url"], telegram_base_file_url=setup["base_file_url"], geocoder="none",
    )  # fmt: skip
    services = Services.build(settings)
    area = shapely.from_wkt(setup["area"])
    operator = Actor.telegram(int(setup["operator_id"]))
    lag = LoopLag(stall_s=STALL_MS / 1000)
    cpu_since = [time.process_time()]  # this process's CPU time (every thread) when the watch began
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out = sys.stdout

    def answer(message: dict[str, Any]) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    def declare() -> dict[str, Any]:
        started = time.perf_counter()
        issued = services.emergencies.declare("riyadh", declaration(area, services.clock()), operator)
        return {"first_id": issued.emergency.first_id, "declare_s": round(time.perf_counter() - started, 3)}

    def update(first_id: int) -> dict[str, Any]:
        changes = {
            "instruction_ar": "ابتعد عن الأنفاق حتى إشعار آخر",
            "instruction_en": "Keep out of underpasses until told",
        }
        issued = services.emergencies.update(first_id, changes, operator)
        return {"version": issued.emergency.version}

    async def handle(request: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"id": request["id"]}
        try:
            match request["do"]:
                case "lag_start":
                    lag.reset()
                    lag.start()
                    cpu_since[0] = time.process_time()
                case "lag_stop":
                    lag.stop()
                    reply["lag"] = lag.stats().as_json()
                    reply["cpu_s"] = round(time.process_time() - cpu_since[0], 3)
                case "declare":
                    reply.update(await asyncio.to_thread(declare))
                case "import":
                    text = await asyncio.to_thread(Path(request["path"]).read_text, "utf-8")
                    reply.update(await import_closures(services, text))
                case "update":
                    reply.update(await asyncio.to_thread(update, int(request["first_id"])))
                case "stop":
                    stop.set()
                case other:
                    raise ValueError(f"unknown request {other!r}")
        except Exception as exc:  # the parent reports it; this process keeps serving
            reply["error"] = f"{type(exc).__name__}: {exc}"
        answer(reply)

    async with running_bot(services) as web_url:
        settle()  # start-up is done, as ``roadbot run`` has it (bot.gc_tuning): this process is the bot's
        answer({"web_url": web_url, "pid": os.getpid()})
        tasks: set[asyncio.Task[None]] = set()
        lines = asyncio.create_task(reader.readline())
        stopping = asyncio.create_task(stop.wait())
        while True:
            done, _ = await asyncio.wait({lines, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if stopping in done:
                lines.cancel()
                break
            line = lines.result()
            if not line:  # the parent went away
                stopping.cancel()
                break
            task = asyncio.create_task(handle(json.loads(line)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            lines = asyncio.create_task(reader.readline())
        await asyncio.gather(*tasks, return_exceptions=True)


def main() -> int:
    setup = json.loads(sys.stdin.buffer.readline())
    asyncio.run(_serve(setup))
    return 0


if __name__ == "__main__":
    sys.exit(main())
