"""A driver sends a point and hears what is closed around it, checked against geodesic distances.

The oracle here is our own: the sample closures read straight from ``data/sample_closures.geojson``,
their nearest point found on an azimuthal-equidistant frame centred on the driver, and the distance and
bearing to it measured with ``pyproj.Geod``. Only the formatting (``Translator.distance``, compass words)
is borrowed from the bot, applied to our numbers. The other driver tests share these helpers.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

from bot.i18n import Translator, get_translator, read_catalog
from bot.localapi import ApiCall, FakeUser
from bot.services import Services
from closures.rules import ClosureDraft
from closures.service import Actor
from tests.bot.conftest import RunningBot
from tests.conftest import DATA

GEOD = Geod(ellps="WGS84")
KINGDOM_CENTRE = (24.7114, 46.6744)  # lat, lon
QUIET = (24.60, 46.90)  # inside Riyadh, more than 13 km from every sample closure
EIGHT = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")  # the compass points drivers are told
ISOLATES = str.maketrans("", "", "\u2066\u2067\u2068\u2069")


# --- the oracle -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sample:
    """One closure of the sample file, with times in hours from the test clock's start."""

    ref: str
    geometry: BaseGeometry
    radius_m: float
    starts_h: float
    ends_h: float | None
    properties: dict[str, Any]

    def relevant(self, hours: float) -> bool:
        """Not ended, and starting within 24 h (what a driver should hear of)."""
        return (self.ends_h is None or self.ends_h > hours) and self.starts_h <= hours + 24

    def title(self, lang: str) -> str:
        return str(self.properties[f"title_{lang}"])


def _samples() -> tuple[Sample, ...]:
    features = json.loads((DATA / "sample_closures.geojson").read_text(encoding="utf-8"))["features"]
    out = []
    for feature in features:
        p = feature["properties"]
        duration = p["duration_h"]
        out.append(
            Sample(
                p["ref"],
                shape(feature["geometry"]),
                float(p["radius_m"] or 0.0),
                p["start_offset_h"],
                None if duration is None else p["start_offset_h"] + duration,
                p,
            )
        )
    return tuple(out)


SAMPLES = _samples()
BY_TITLE = {s.title(lang): s for s in SAMPLES for lang in ("ar", "en")}
STAFF_ARABIC = tuple(
    str(v) for s in SAMPLES for k, v in s.properties.items() if k.endswith("_ar") and v
)  # staff-written text, which may carry exit numbers in ASCII digits


class LocalFrame:
    """Metres on an azimuthal-equidistant projection centred on a point (ours, not the bot's UTM)."""

    def __init__(self, lat: float, lon: float) -> None:
        crs = f"+proj=aeqd +lat_0={lat} +lon_0={lon} +ellps=WGS84 +units=m"
        self._forward = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        self._back = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)

    def metres(self, geometry: BaseGeometry) -> BaseGeometry:
        """The lon/lat geometry in metres, its straight lon/lat edges densified to ~10 m first."""
        dense = shapely.segmentize(geometry, 1e-4)
        return shapely.transform(
            dense, lambda xy: np.column_stack(self._forward.transform(xy[:, 0], xy[:, 1]))
        )

    def lonlat(self, point: Point) -> tuple[float, float]:
        lon, lat = self._back.transform(point.x, point.y)
        return float(lon), float(lat)


@dataclass(frozen=True)
class Reach:
    """Geodesic metres from the driver to a closure's edge, and the bearing to its nearest point."""

    distance_m: float
    bearing_deg: float | None


def reach(lat: float, lon: float, geometry: BaseGeometry, radius_m: float = 0.0) -> Reach:
    frame = LocalFrame(lat, lon)
    shape_m = frame.metres(geometry)
    here = Point(0.0, 0.0)
    if shape_m.geom_type == "Polygon" and shape_m.contains(here):
        return Reach(0.0, None)
    nearest, _ = nearest_points(shape_m, here)
    to_lon, to_lat = frame.lonlat(nearest)
    azimuth, _, metres = GEOD.inv(lon, lat, to_lon, to_lat)
    return Reach(max(0.0, metres - radius_m), azimuth % 360.0)


def closures_near(
    lat: float, lon: float, radius_m: float, *, hours: float = 0.0
) -> list[tuple[Sample, Reach]]:
    """The sample closures a driver at (lat, lon) should hear of ``hours`` after the start, nearest first."""
    found = [(s, reach(lat, lon, s.geometry, s.radius_m)) for s in SAMPLES if s.relevant(hours)]
    return sorted([(s, r) for s, r in found if r.distance_m <= radius_m], key=lambda sr: sr[1].distance_m)


def compass_words(tr: Translator, bearing: float) -> set[str]:
    """The 8-point compass word for a bearing, or either neighbour when it lies within 1° of a sector edge."""
    return {tr.compass(EIGHT[int(((b % 360.0) + 22.5) // 45.0) % 8]) for b in (bearing - 1, bearing + 1)}


def destination(lat: float, lon: float, bearing: float, metres: float) -> tuple[float, float]:
    """(lat, lon) of the point ``metres`` from (lat, lon) along ``bearing``, on the ellipsoid."""
    to_lon, to_lat, _ = GEOD.fwd(lon, lat, bearing, metres)
    return float(to_lat), float(to_lon)


# --- reading the bot's answers --------------------------------------------------------------------
@dataclass(frozen=True)
class Listed:
    """One numbered closure of a results list: its number as shown, title, and 'where' part."""

    number: str
    title: str
    where: str
    block: str


def listed(text: str) -> list[Listed]:
    """The numbered closures of an answer: in force (title, then where · lanes · time), or upcoming (one
    line: title · where · start), under their section headings."""
    out = []
    for block in text.split("\n\n"):
        block = re.sub(r"^<b>[^<]*</b>\n", "", block)  # a section heading ("In force now:")
        match = re.fullmatch(r"(\S+)\. <b>(.+?)</b>(?:\n| · )(.+?) · (.*)", block, re.S)
        if match:
            title = match[2].translate(ISOLATES)
            out.append(Listed(match[1], title, match[3], block))
    return out


def header(text: str) -> str:
    return text.split("\n\n", 1)[0]


def in_force_first(found: list[tuple[Sample, Reach]], hours: float = 0.0) -> list[tuple[Sample, Reach]]:
    """The order an answer lists closures in: those in force ``hours`` after the start, then the others."""
    return sorted(found, key=lambda sr: sr[0].starts_h > hours)


def summary_line(
    tr: Translator, found: list[tuple[Sample, Reach]], radius_m: float, hours: float = 0.0
) -> set[str]:
    """The answer's first line for these closures, by our own count and nearest (either compass word)."""
    active = [(s, r) for s, r in found if s.starts_h <= hours]
    radius = tr.distance(radius_m)
    if not active:
        return {f"<b>{tr.n('results.summary_none_in_force', len(found), radius=radius)}</b>"}
    sample, nearest = active[0]
    full = sample.properties["severity"] == "full"
    meaning = tr.t("results.means_full" if full else "results.means_partial")
    assert nearest.bearing_deg is not None
    return {
        f"<b>{tr.n('results.summary', len(active), radius=radius, where=where, meaning=meaning)}</b>"
        for word in compass_words(tr, nearest.bearing_deg)
        if (
            where := tr.t(
                "closure.distance_direction", distance=tr.distance(nearest.distance_m), direction=word
            )
        )
    }


def buttons(call: ApiCall) -> list[tuple[str, str]]:
    """(text, callback_data) of every inline button under a sent message, row by row."""
    rows = call.params.get("reply_markup", {}).get("inline_keyboard", [])
    return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]


def assert_arabic_numerals(text: str, *, staff: Iterable[str] = ()) -> None:
    """The bot's own numbers in an Arabic reply use Arabic-Indic digits (staff-written text aside)."""
    own = text
    for written in sorted({*STAFF_ARABIC, *staff}, key=len, reverse=True):
        own = own.replace(written, "")
    assert re.search("[٠-٩]", own), f"no Arabic-Indic digit in {text!r}"
    assert not re.search("[0-9]", own), f"ASCII digits in the bot's own Arabic text: {own!r}"


def expected_where(tr: Translator, found: Reach, shown: str) -> None:
    """``shown`` is '<distance> <direction>' for our own distance and bearing, in the translator's words."""
    assert found.bearing_deg is not None
    wanted = {
        tr.t("closure.distance_direction", distance=tr.distance(found.distance_m), direction=word)
        for word in compass_words(tr, found.bearing_deg)
    }
    assert shown in wanted


# --- driving the bot ------------------------------------------------------------------------------
_probe_ids = itertools.count(990_001)


async def settle(bot: RunningBot) -> None:
    """Return once the bot has handled every update sent so far, replies included.

    A probe from a fresh user is fetched after everything queued before it; once it is answered, the
    Application's update queue holds every earlier update, and ``join`` waits until all are handled.
    """
    probe = FakeUser(next(_probe_ids), language_code="en")
    await bot.ask(probe, "/radius")
    await bot.app.update_queue.join()


async def press(
    bot: RunningBot, user: FakeUser, message: ApiCall, data: str, *, method: str = "sendMessage"
) -> ApiCall:
    """Tap a button under ``message`` and return the bot's next ``method`` call to the user."""
    since = len(bot.api.calls)
    bot.api.user_presses_button(user, message, data)
    return await bot.reply_to(user, since=since, method=method)


_ARABIC_LETTERS = "أبتثجحخدذرزسشصضطظعغفقكلمنهوي"


def register_point(
    services: Services,
    lat: float,
    lon: float,
    *,
    name: int,
    radius_m: float = 20.0,
    starts_in: timedelta = timedelta(0),
    lasts: timedelta = timedelta(hours=2),
) -> dict[str, str]:
    """Store a point closure (as the system) and return its title in each language."""
    now = services.clock()
    titles = {"ar": f"إغلاق تجريبي {_ARABIC_LETTERS[name]}", "en": f"Test closure {name}"}
    draft = ClosureDraft(
        geometry=Point(lon, lat),
        reason="roadworks",
        starts_at=now + starts_in,
        ends_at=now + starts_in + lasts,
        title_ar=titles["ar"],
        title_en=titles["en"],
        radius_m=radius_m,
    )
    services.closures.register("riyadh", draft, Actor.system("test"))
    return titles


# --- tests ----------------------------------------------------------------------------------------
LANGS = pytest.mark.parametrize("lang", ["ar", "en"])


@LANGS
async def test_location_opens_with_a_summary_then_in_force_then_upcoming_closures(
    running_bot: RunningBot, lang: str
) -> None:
    tr = get_translator(lang)
    user = FakeUser(101, language_code=lang)
    expected = in_force_first(closures_near(*KINGDOM_CENTRE, 5_000))
    assert any(s.starts_h > 0 for s, _ in expected)
    assert any(s.starts_h <= 0 for s, _ in expected)

    answer = await running_bot.send_location(user, *KINGDOM_CENTRE)

    assert header(answer.text or "") in summary_line(tr, expected, 5_000)
    shown = listed(answer.text or "")
    assert [BY_TITLE[item.title].ref for item in shown] == [s.ref for s, _ in expected]
    for i, (item, (sample, found)) in enumerate(zip(shown, expected, strict=True)):
        assert item.number == tr.number(i + 1)
        expected_where(tr, found, item.where)
        upcoming = sample.starts_h > 0
        assert ("\n" not in item.block.split(". ", 1)[1]) == upcoming  # upcoming ones take one line
    text = answer.text or ""
    active_count = sum(s.starts_h <= 0 for s, _ in expected)
    assert text.index(tr.t("results.in_force")) < text.index(f"{tr.number(1)}. ")
    assert text.index(f"{tr.number(active_count)}. ") < text.index(tr.t("results.upcoming"))
    assert text.index(tr.t("results.upcoming")) < text.index(f"{tr.number(active_count + 1)}. ")
    details = [data for _, data in buttons(answer) if data.startswith("i:")]
    assert len(details) == len(shown)
    assert [text for text, _ in buttons(answer)][: len(details)] == [
        tr.t("button.details", number=tr.number(i + 1)) for i in range(len(details))
    ]
    rows = answer.params["reply_markup"]["inline_keyboard"]
    assert max(len(row) for row in rows) == 5  # five numbered buttons to a row: short enough to read
    assert buttons(answer)[-1] == (tr.t("button.save_place"), "save:point")
    if lang == "ar":
        assert_arabic_numerals(answer.text or "")


@LANGS
async def test_a_closures_button_opens_its_full_block_with_the_map_button(
    running_bot: RunningBot, lang: str
) -> None:
    tr = get_translator(lang)
    user = FakeUser(108, language_code=lang)
    answer = await running_bot.send_location(user, *KINGDOM_CENTRE)
    first = listed(answer.text or "")[0]
    sample = BY_TITLE[first.title]
    button = next(data for _, data in buttons(answer) if data.startswith("i:"))

    detail = await press(running_bot, user, answer, button)

    text = detail.text or ""
    assert text.split("\n")[0].translate(ISOLATES) == f"<b>{sample.title(lang)}</b>"
    detour = sample.properties.get(f"detour_{lang}")
    if detour:
        assert tr.t("closure.detour", detour=detour).translate(ISOLATES) in text.translate(ISOLATES)
    expected_where(
        tr, reach(*KINGDOM_CENTRE, sample.geometry, sample.radius_m), text.split("\n")[1].split(" · ")[1]
    )
    pin = [data for _, data in buttons(detail)]
    assert pin == [f"pin:{button.split(':')[1]}"]


@pytest.mark.parametrize(("position", "kind"), [(0, "LineString"), (1, "Point"), (8, "Polygon")])
async def test_pin_button_sends_a_location_on_that_closure(
    running_bot: RunningBot, position: int, kind: str
) -> None:
    user = FakeUser(102, language_code="en")
    answer = await running_bot.send_location(user, *KINGDOM_CENTRE)
    closure = BY_TITLE[listed(answer.text or "")[position].title]
    assert closure.geometry.geom_type == kind
    details = [data for _, data in buttons(answer) if data.startswith("i:")][position]
    detail = await press(running_bot, user, answer, details)
    (pin,) = [data for _, data in buttons(detail)]

    sent = await press(running_bot, user, detail, pin, method="sendLocation")

    lat, lon = sent.params["latitude"], sent.params["longitude"]
    assert reach(lat, lon, closure.geometry).distance_m < 1.0  # on the line, or the point itself


@LANGS
async def test_venue_typed_coordinates_and_map_links_give_the_same_list(
    running_bot: RunningBot, lang: str
) -> None:
    user = FakeUser(103, language_code=lang)
    lat, lon = KINGDOM_CENTRE
    first = await running_bot.send_location(user, lat, lon)
    assert len(listed(first.text or "")) == len(closures_near(lat, lon, 5_000))
    answers = []
    since = len(running_bot.api.calls)
    running_bot.api.user_sends_venue(user, lat, lon, "Kingdom Centre", "King Fahd Rd, Riyadh")
    answers.append(await running_bot.reply_to(user, since=since))
    for text in (
        "24.7114, 46.6744",
        "٢٤٫٧١١٤، ٤٦٫٦٧٤٤",
        "https://maps.google.com/?q=24.7114,46.6744",
        "geo:24.7114,46.6744",
    ):
        answers.append(await running_bot.ask(user, text))

    for answer in answers:
        assert answer.text == first.text
        assert answer.params.get("reply_markup") == first.params.get("reply_markup")


def _arabic_plural_form(n: int) -> int:
    """CLDR's Arabic plural categories: zero, one, two, few (3-10), many (11-99), other."""
    if n in (0, 1, 2):
        return n
    return 3 if 3 <= n % 100 <= 10 else 4 if n % 100 >= 11 else 5


def _arabic_digits(n: int) -> str:
    return str(n).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))


async def test_arabic_summary_takes_the_plural_form_of_its_count(running_bot: RunningBot) -> None:
    ar = get_translator("ar")
    for user_id, (radius, typed, key, count) in enumerate(
        [(200, "200", "results.summary_none_in_force", 1), (1_000, "1", "results.summary", 1),
         (2_500, "2.5", "results.summary", 4), (20_000, "20", "results.summary", 10)],
        start=110,
    ):  # fmt: skip
        found = closures_near(*KINGDOM_CENTRE, radius)
        counted = (
            len(found) if key == "results.summary_none_in_force" else sum(s.starts_h <= 0 for s, _ in found)
        )
        assert counted == count  # the radii were chosen for these counts
        user = FakeUser(user_id, language_code="ar")
        await running_bot.ask(user, f"/radius {typed}")

        answer = await running_bot.send_location(user, *KINGDOM_CENTRE)

        form = read_catalog("ar")[key].string[_arabic_plural_form(count)]  # as written in the catalogue
        literal = form.split("{radius}")[0].replace("{count}", _arabic_digits(count))
        first = header(answer.text or "")
        assert first.translate(ISOLATES).startswith(f"<b>{literal}")
        assert first in summary_line(ar, in_force_first(found), radius)
        assert len(listed(answer.text or "")) == min(len(found), 10)


@LANGS
async def test_more_button_sends_the_next_page(running_bot: RunningBot, lang: str) -> None:
    tr = get_translator(lang)
    lat, lon = QUIET
    titles = [
        register_point(running_bot.services, *destination(lat, lon, 27.0 * i, 300.0 + 100 * i), name=i)[lang]
        for i in range(13)
    ]
    user = FakeUser(104, language_code=lang)

    first = await running_bot.send_location(user, lat, lon)

    meaning = tr.t("results.means_full")  # the test closures close the road
    assert header(first.text or "").translate(ISOLATES).endswith(f"{meaning}</b>".translate(ISOLATES))
    assert tr.number(13) in header(first.text or "")
    page = listed(first.text or "")
    assert len(page) == 10
    assert f"\n\n{tr.n('results.more', 3)}" in (first.text or "")
    assert buttons(first)[-2:] == [
        (tr.t("button.more"), "more:10"),
        (tr.t("button.save_place"), "save:point"),
    ]

    second = await press(running_bot, user, first, "more:10")

    rest = listed(second.text or "")
    assert [item.number for item in rest] == [tr.number(n) for n in (11, 12, 13)]
    assert [item.title for item in [*page, *rest]] == titles  # nearest first, across both pages
    assert header(second.text or "") == f"<b>{tr.t('results.in_force')}</b>\n{rest[0].block}".split("\n\n")[0]
    assert meaning not in (second.text or "")  # the summary opens the first page only
    assert all(data.startswith("i:") for _, data in buttons(second))  # no "more", no "save" on page 2
    if lang == "ar":
        assert_arabic_numerals(second.text or "", staff=titles)


@LANGS
async def test_nothing_within_the_radius_says_how_far_the_nearest_is(
    running_bot: RunningBot, lang: str
) -> None:
    tr = get_translator(lang)
    user = FakeUser(105, language_code=lang)
    await running_bot.ask(user, "/radius 100")
    assert closures_near(*KINGDOM_CENTRE, 100) == []
    (_, nearest), *_ = closures_near(*KINGDOM_CENTRE, 50_000)
    assert nearest.bearing_deg is not None

    answer = await running_bot.send_location(user, *KINGDOM_CENTRE)

    assert answer.text in {
        tr.t(
            "results.none_within",
            radius=tr.distance(100),
            distance=tr.distance(nearest.distance_m),
            direction=w,
        )
        for w in compass_words(tr, nearest.bearing_deg)
    }
    if lang == "ar":
        assert_arabic_numerals(answer.text or "")


@LANGS
async def test_a_location_far_from_every_city_is_outside(running_bot: RunningBot, lang: str) -> None:
    user = FakeUser(106, language_code=lang)
    answer = await running_bot.send_location(user, 0.0, 0.0)
    assert answer.text == get_translator(lang).t("location.outside")


async def test_upcoming_within_a_day_are_listed_and_ended_ones_drop_out(running_bot: RunningBot) -> None:
    en = get_translator("en")
    user = FakeUser(107, language_code="en")
    later = {
        s.ref
        for s in SAMPLES
        if s.starts_h > 24 and reach(*KINGDOM_CENTRE, s.geometry, s.radius_m).distance_m < 5_000
    }
    assert later  # closures near Kingdom Centre that start after tomorrow: not to be listed yet

    now = await running_bot.send_location(user, *KINGDOM_CENTRE)
    refs_now = [BY_TITLE[item.title].ref for item in listed(now.text or "")]
    assert refs_now == [s.ref for s, _ in in_force_first(closures_near(*KINGDOM_CENTRE, 5_000))]
    assert not later & set(refs_now)
    olaya = next(item for item in listed(now.text or "") if BY_TITLE[item.title].ref == "riyadh-003")
    assert olaya.block.endswith(f" · {en.t('timing.starts', time='6:00 PM')}")  # 09:00 UTC + 6 h, in Riyadh

    running_bot.clock.advance(timedelta(hours=5))
    after = await running_bot.send_location(user, *KINGDOM_CENTRE)

    refs_after = [BY_TITLE[item.title].ref for item in listed(after.text or "")]
    assert refs_after == [s.ref for s, _ in in_force_first(closures_near(*KINGDOM_CENTRE, 5_000, hours=5), 5)]
    assert "riyadh-002" in refs_now
    assert "riyadh-002" not in refs_after  # it ended 2 h after the start
    assert "riyadh-025" in refs_after  # starts 28 h after the start: now within the day
