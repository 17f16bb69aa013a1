"""``roadbot chat``: the real bot against an in-process Bot API, driven by typed lines, replies as text.

Run as a subprocess with piped stdin (as a person pipes a script), and in-process through
``chat_session`` to check each kind of line.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import select

from bot.cli.demo import load_sample_database
from bot.cli.playground import USER_ID, chat_session, describe
from bot.config import Settings
from bot.i18n import get_translator
from bot.localapi import ApiCall
from closures.models import Municipality, Staff
from closures.store import make_engine, session_scope
from tests.conftest import ROOT

SETTINGS_VARS = ("DATABASE_URL", "TELEGRAM_BOT_TOKEN", "TELEGRAM_BASE_URL", "TELEGRAM_BASE_FILE_URL")
KINGDOM_CENTRE = "24.7114,46.6744"
DISTANCE = re.compile(r"\b\d+(\.\d)? (m|km)\b")
ARABIC_DIGITS = re.compile(r"[٠-٩]")


def first_line(key: str, lang: str) -> str:
    """The first line of a catalogue text, as the terminal shows it (these keys carry no markup)."""
    return get_translator(lang).t(key).splitlines()[0]


@pytest.fixture
def sample_settings(tmp_path: Path) -> Settings:
    """Settings on a fresh SQLite file holding the sample municipalities and closures (times from now)."""
    ctx, _ = load_sample_database(Settings(_env_file=None), tmp_path / "chat.sqlite")  # type: ignore[call-arg]
    ctx.engine.dispose()
    return ctx.settings


async def play(settings: Settings, *lines: str, lang: str = "en", **options: bool) -> list[str]:
    out = io.StringIO()
    await chat_session(list(lines), out, settings, lang=lang, echo=True, **options)
    return out.getvalue().splitlines()


def answer_to(transcript: list[str], line: str, *, nth: int = 0) -> list[str]:
    """The lines printed between the ``nth`` echo of ``line`` and the next echo."""
    echoes = [i for i, printed in enumerate(transcript) if printed == f"> {line}"]
    start = echoes[nth] + 1
    end = next((i for i in range(start, len(transcript)) if transcript[i].startswith("> ")), len(transcript))
    return transcript[start:end]


def test_piped_session_welcomes_lists_closures_and_sends_a_pin(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARS}
    env["PYTHONPATH"] = str(ROOT)
    script = f"/start\n{KINGDOM_CENTRE}\npress 1\npress 1\nquit\n"  # the first closure, then its map

    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--lang", "en"],
        input=script,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=tmp_path,  # no .env, and nothing written next to the project
        env=env,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert out[0].startswith(f"You are Driver (Telegram user {USER_ID}, en)")
    assert first_line("start.welcome", "en") in answer_to(out, "/start")
    results = answer_to(out, KINGDOM_CENTRE)
    assert "closures in force within" in results[0]
    assert any(DISTANCE.search(line) for line in results[1:])
    assert re.match(r"\[\d+\] ", results[-1])  # the buttons, numbered
    detail, pin = (answer_to(out, "press 1", nth=n) for n in (0, 1))
    assert detail[-1] == "[1] 🗺 Show on map"
    assert len(pin) == 1
    assert re.fullmatch(r"📍 24\.\d{5}, 46\.\d{5}", pin[0])
    assert "(no reply)" not in out
    assert list(tmp_path.iterdir()) == []  # the temporary database is gone


async def test_arabic_session_answers_with_arabic_digits_and_a_pin(sample_settings: Settings):
    out = await play(sample_settings, "/start", "loc 24.7114 46.6744", "press 2", "press 1", lang="ar")

    assert first_line("start.welcome", "ar") in answer_to(out, "/start")
    results = answer_to(out, "loc 24.7114 46.6744")
    assert ARABIC_DIGITS.search(results[0])
    assert not re.search(r"[0-9]", "\n".join(line for line in results if not line.startswith("[")))
    assert answer_to(out, "press 1")[0].startswith("📍 ")


async def test_live_location_starts_moves_and_stops(sample_settings: Settings):
    out = await play(
        sample_settings, "live 24.7000 46.6700", "live 24.7010 46.6710", "live stop", "live stop"
    )

    assert answer_to(out, "live 24.7000 46.6700") == [get_translator("en").t("live.started")]
    assert answer_to(out, "live stop")[0] == get_translator("en").t("live.stopped")
    assert "no live location is being shared" in out[-1]


async def test_a_fix_the_bot_says_nothing_about_prints_no_reply_at_once(sample_settings: Settings):
    out = await play(sample_settings, "live 21.0 45.0", "live 21.0005 45.0005")

    assert answer_to(out, "live 21.0005 45.0005") == ["(no reply)"]


async def test_typed_coordinates_and_radius_go_to_the_bot_as_text(sample_settings: Settings):
    out = await play(sample_settings, "/radius 2", KINGDOM_CENTRE)

    assert answer_to(out, "/radius 2") == [get_translator("en").t("radius.set", radius="2.0 km")]
    assert "within 2.0 km" in answer_to(out, KINGDOM_CENTRE)[0]


async def test_press_explains_what_can_be_pressed(sample_settings: Settings):
    out = await play(sample_settings, "press 1", "/language", "press 7", "press 2")

    assert answer_to(out, "press 1") == ["(the bot has shown no buttons yet)"]
    assert answer_to(out, "/language")[-1] == "[1] العربية  [2] English"
    assert answer_to(out, "press 7") == ["(press a button from 1 to 2)"]
    assert answer_to(out, "press 2") == ["✎ " + get_translator("en").t("language.switched")]


async def test_as_staff_registers_the_user_as_staff_of_riyadh(sample_settings: Settings):
    out = await play(sample_settings, "/new", "/cancel", as_staff=True)

    assert out[0].startswith(f"You are Staff (Telegram user {USER_ID}, en), staff of riyadh")
    engine = make_engine(sample_settings.database_url)
    with session_scope(engine) as session:
        staff = session.exec(select(Staff, Municipality).join(Municipality)).all()
    engine.dispose()
    assert [(s.telegram_user_id, m.slug, s.role, s.active) for s, m in staff] == [
        (USER_ID, "riyadh", "staff", True)
    ]
    refusal = get_translator("en").t("error.not_authorised")
    assert answer_to(out, "/new")
    assert refusal not in answer_to(out, "/new")  # the staff flow answers, not the refusal


async def test_a_driver_is_not_staff(sample_settings: Settings):
    out = await play(sample_settings, "/new")

    assert answer_to(out, "/new") == [get_translator("en").t("error.not_authorised")]


def test_replies_are_shown_as_terminal_text_with_numbered_buttons():
    markup = {"inline_keyboard": [[{"text": "Map", "callback_data": "pin:1"}, {"text": "More", "url": "x"}]]}
    call = ApiCall(
        "sendMessage",
        {
            "chat_id": 1,
            "text": "<b>Olaya</b> &amp; Tahlia\n2 km",
            "parse_mode": "HTML",
            "reply_markup": markup,
        },
        at=0.0,
    )

    assert describe(call) == ["Olaya & Tahlia", "2 km", "[1] Map  [2] More"]


LINE_DRAWN = '{"geometry": {"type": "LineString", "coordinates": [[46.68, 24.70], [46.675, 24.71]]}}'


async def test_the_map_editor_button_shows_its_url_and_webapp_sends_what_its_page_would(
    sample_settings: Settings,
):
    tr = get_translator("en")
    out = await play(sample_settings, "/new", "press 1", f"webapp {LINE_DRAWN}", as_staff=True)

    button = answer_to(out, "/new")[-1]
    assert button.startswith(f"[1] {tr.t('staff.button.draw')} ↗ https://roadbot-chat.invalid/webapp/editor?")
    assert answer_to(out, "press 1")[0].startswith("(that button opens https://roadbot-chat.invalid/webapp/")
    answer = answer_to(out, f"webapp {LINE_DRAWN}")
    assert answer[0] == "🖼 " + tr.t("staff.drawn.received", shape=tr.t("staff.shape.line", length="1.2 km"))
    assert answer[1] == tr.t("staff.ask.reason")


AREA_DRAWN = (
    '{"geometry": {"type": "Polygon", "coordinates": [[[46.67, 24.70], [46.69, 24.70], [46.69, 24.72], '
    "[46.67, 24.72], [46.67, 24.70]]]}}"
)


async def test_webapp_answers_the_emergency_area_question_as_its_page_would(sample_settings: Settings):
    tr = get_translator("en")
    out = await play(sample_settings, "/emergency", f"webapp {AREA_DRAWN}", as_staff=True)

    button = next(line for line in answer_to(out, "/emergency") if tr.t("staff.button.draw") in line)
    assert "/webapp/editor?lang=en&d=" in button
    assert "&e=" in button  # the editor opens for an area of the municipality
    assert answer_to(out, f"webapp {AREA_DRAWN}")[0] == tr.t("emergency.ask.hazard")


async def test_a_drawing_the_server_refuses_shows_what_the_page_would_say(sample_settings: Settings):
    tr = get_translator("en")
    jeddah = '{"geometry": {"type": "Point", "coordinates": [39.17, 21.54]}, "radius_m": 100}'
    out = await play(
        sample_settings, "/new", f"webapp {jeddah}", "webapp [1, 2]", "webapp nonsense", as_staff=True
    )

    refused = tr.t("staff.refused.outside_municipality")
    assert answer_to(out, f"webapp {jeddah}") == [f"(the page says, 422: {refused})"]
    assert answer_to(out, "webapp [1, 2]")[0].startswith("(a JSON object with a geometry; e.g. webapp {")
    assert answer_to(out, "webapp nonsense")[0].startswith("(not JSON; e.g. webapp {")


async def test_a_driver_drawing_is_refused_as_the_server_refuses_strangers(sample_settings: Settings):
    out = await play(sample_settings, f"webapp {LINE_DRAWN}")

    refusal = get_translator("en").t("web.editor.refused.not_staff")
    assert answer_to(out, f"webapp {LINE_DRAWN}") == [f"(the page says, 403: {refusal})"]
