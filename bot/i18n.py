"""Catalogues and locale-aware formatting for the two languages the bot speaks: Arabic first, English second.

Every user-facing sentence lives in ``bot/locales/<lang>/LC_MESSAGES/messages.po`` under a stable key
(``msgid "results.header"``). The .po files are compiled in memory on first use, so no .mo is committed.
Numbers, distances and times are formatted here: Arabic with Arabic-Indic digits (٠-٩) and the Arabic
decimal separator (٫), times in the municipality's zone and relative to "now".

Right-to-left safety: in Arabic every interpolated value is wrapped in a first-strong isolate (FSI…PDI),
and Latin runs written into the Arabic catalogue itself (``/radius``, ``Google``) are isolated when it is
loaded, so a number or a Latin word never reorders the sentence around it. In English only values that
contain right-to-left script are isolated.

Catalogue texts are plain text that is also valid Telegram HTML (no ``<``, ``>`` or ``&``); a caller
sending HTML escapes user-supplied values before interpolating them (``bot.text`` does).

>>> ar, en = get_translator("ar"), get_translator("en")
>>> ar.distance(2345), en.distance(2345), en.distance(844)
('٢٫٣ كم', '2.3 km', '840 m')
>>> en.n("results.header", 3, radius=en.distance(5000))
'3 closures within 5.0 km:'
"""

from __future__ import annotations

import functools
import gettext
import logging
import math
import re
import string
from collections.abc import Mapping
from datetime import date, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from io import BytesIO
from typing import Any

from babel.core import Locale
from babel.dates import format_datetime
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import NumberPattern, parse_pattern

from geo.measure import eight_point

logger = logging.getLogger(__name__)

LANGUAGES: tuple[str, ...] = ("ar", "en")
FSI = "\u2068"  # FIRST STRONG ISOLATE
PDI = "\u2069"  # POP DIRECTIONAL ISOLATE

_BABEL_LOCALE = {"ar": "ar_SA", "en": "en"}
_NUMBERING = {"ar": "arab", "en": "latn"}
_ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
_RTL_CHAR = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")
_LATIN_WORD = r"[/@#]?[A-Za-z0-9](?:[A-Za-z0-9_./:@+-]*[A-Za-z0-9])?"
_LATIN_RUN = re.compile(rf"{_LATIN_WORD}(?: +{_LATIN_WORD})*")
_FORMATTER = string.Formatter()
_warned: set[tuple[str, str]] = set()


def isolate(text: str) -> str:
    """Wrap ``text`` in FSI…PDI so that it keeps its own direction inside a sentence of the other one."""
    return f"{FSI}{text}{PDI}" if text else text


def resolve_language(stored: str | None, telegram_code: str | None, default: str = "ar") -> str:
    """The language to answer in: the user's stored choice, else Telegram's ("en-US" → "en"), else default.

    >>> resolve_language(None, "en-US"), resolve_language("ar", "en"), resolve_language(None, "fr")
    ('en', 'ar', 'ar')
    """
    for code in (stored, telegram_code):
        primary = (code or "").strip().replace("_", "-").split("-")[0].lower()
        if primary in LANGUAGES:
            return primary
    return default if default in LANGUAGES else LANGUAGES[0]


def read_catalog(lang: str) -> Catalog:
    """The parsed .po catalogue of ``lang`` as shipped in the package."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; expected one of {LANGUAGES}")
    path = resources.files("bot") / "locales" / lang / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as po:
        return read_po(po, locale=lang, domain="messages")


def load_translations(lang: str) -> gettext.GNUTranslations:
    """Compile the catalogue of ``lang`` in memory and wrap it for gettext."""
    buffer = BytesIO()
    write_mo(buffer, read_catalog(lang))
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


class Translator:
    """Sentences, numbers, distances and times in one language.

    A key missing from this language is logged once and taken from ``fallback`` (English), then shown as
    the key itself: a missing translation never raises at a user.
    """

    def __init__(
        self, lang: str, catalog: gettext.NullTranslations, fallback: Translator | None = None
    ) -> None:
        if lang not in LANGUAGES:
            raise ValueError(f"unknown language {lang!r}; expected one of {LANGUAGES}")
        self.lang = lang
        self._catalog = catalog
        self._fallback = fallback
        self._rtl = lang == "ar"
        self._prepared: dict[str, str] = {}
        self._plain: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"Translator({self.lang!r})"

    def t(self, key: str, **values: Any) -> str:
        """The sentence for ``key`` with ``values`` filled in (numbers formatted, values isolated)."""
        if not values:  # a fixed sentence (a button, a heading): the same every time, so made once
            plain = self._plain.get(key)
            if plain is None:
                plain = self._plain[key] = self._fill(key, self._template(key, None), values, embed=True)
            return plain
        return self._fill(key, self._template(key, None), values, embed=True)

    def n(self, key: str, count: int, **values: Any) -> str:
        """The plural sentence for ``key`` that agrees with ``count``, which fills ``{count}``."""
        return self._fill(key, self._template(key, count), {**values, "count": count}, embed=True)

    def embed(self, value: str) -> str:
        """``value`` made safe to place in a sentence of this language (see the module docstring)."""
        if self._rtl or _RTL_CHAR.search(value):
            return isolate(value)
        return value

    def number(self, value: float, decimals: int = 0) -> str:
        """``value`` rounded half-up to 0 or 1 decimals, grouped, in this language's digits."""
        if decimals not in (0, 1):
            raise ValueError(f"decimals must be 0 or 1, not {decimals!r}")
        if not math.isfinite(value):
            raise ValueError(f"cannot format {value!r}")
        rounded = Decimal(str(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
        return self._number_text(str(rounded), decimals)

    def distance(self, metres: float) -> str:
        """'850 m', '2.3 km', '13 km': whole tens of metres below 1 km, one decimal below 10 km."""
        metres = max(0.0, metres)
        tens = int(_round(metres / 10)) * 10
        if metres > 0:
            tens = max(tens, 10)
        if tens < 1000:
            return self._internal("unit.m", value=self.number(tens))
        km = _round(metres / 1000, 1)
        if km < 10:
            return self._internal("unit.km", value=self.number(km, 1))
        return self._internal("unit.km", value=self.number(_round(metres / 1000)))

    def coordinates(self, lat: float, lon: float) -> str:
        """'24.71360, 46.67530' (Arabic: '٢٤٫٧١٣٦٠، ٤٦٫٦٧٥٣٠'): a pair to read back or type in again."""
        if self._rtl:
            return f"{lat:.5f}، {lon:.5f}".replace(".", "٫").translate(_ARABIC_INDIC)
        return f"{lat:.5f}, {lon:.5f}"

    def compass(self, code: str) -> str:
        """Where something lies, in the 8 points drivers use: 'NE' → 'north-east' / 'الشمال الشرقي'.

        A 16-point code (an imported closure's heading) reads as its 8-point word: 'NNE' → 'north'.
        """
        return self._internal(f"compass.{eight_point(code)}")

    def heading(self, code: str) -> str:
        """Which way traffic goes, as an adverb: 'S' → 'south' / 'جنوبًا' ("traffic heading south")."""
        return self._internal(f"heading.{eight_point(code)}")

    def time(self, dt: datetime, tz: tzinfo, now: datetime) -> str:
        """``dt`` as a phrase relative to ``now``, both read in ``tz``.

        The same day gives the clock time, the next gives 'tomorrow …', within a week the weekday, beyond
        that the date.
        """
        return self._time(dt, tz, now.astimezone(tz).date())

    def full_time(self, dt: datetime, tz: tzinfo) -> str:
        """``dt`` with its full date, read in ``tz``: '27 November 2026 10:00 AM' (for records, not talk)."""
        return self._babel(dt.astimezone(tz), "d MMMM y h:mm a")

    # --- internals ---

    # Memoised: a results page repeats the same few numbers and times for every driver. Translators live as
    # long as the process (one per language), so caching on ``self`` keeps nothing alive that would not be.
    @functools.lru_cache(maxsize=4096)  # noqa: B019
    def _number_text(self, rounded: str, decimals: int) -> str:
        text = _number_pattern(decimals).apply(
            Decimal(rounded), _babel_locale(self.lang), numbering_system=_NUMBERING[self.lang]
        )
        return self._digits(text)

    @functools.lru_cache(maxsize=2048)  # noqa: B019
    def _time(self, dt: datetime, tz: tzinfo, today: date) -> str:
        local = dt.astimezone(tz)
        days = (local.date() - today).days
        clock = self._babel(local, "h:mm a")
        if days == 0:
            return clock
        if days == 1:
            return self._internal("time.tomorrow", time=clock)
        if days == -1:
            return self._internal("time.yesterday", time=clock)
        if -7 < days < 7:
            return self._babel(local, "EEEE h:mm a")
        same_year = local.year == today.year
        return self._babel(local, "d MMMM h:mm a" if same_year else "d MMMM y h:mm a")

    def _internal(self, key: str, **values: Any) -> str:
        """A fragment (unit, date word) that is itself a value: filled without isolating its parts."""
        return self._fill(key, self._template(key, None), values, embed=False)

    def knows(self, key: str) -> bool:
        """Whether this language's catalogue has ``key`` (without falling back to the other language)."""
        return self._own(key, None) is not None

    def _template(self, key: str, count: int | None) -> str:
        own = self._own(key, count)
        if own is not None:
            return own
        _warn_once(self.lang, key)
        if self._fallback is not None:
            other = self._fallback._own(key, count)
            if other is not None:
                return other
        return key

    def _own(self, key: str, count: int | None) -> str | None:
        text = self._catalog.gettext(key) if count is None else self._catalog.ngettext(key, key, count)
        if text == key:
            return None
        if not self._rtl:
            return text
        prepared = self._prepared.get(text)
        if prepared is None:
            prepared = self._prepared[text] = _isolate_latin_runs(text)
        return prepared

    def _fill(self, key: str, template: str, values: Mapping[str, Any], *, embed: bool) -> str:
        shown = _Values(key, self.lang)
        for name, value in values.items():
            text = self._value_text(value)
            shown[name] = self.embed(text) if embed and text else text
        try:
            return template.format_map(shown)
        except (ValueError, IndexError, AttributeError) as exc:
            logger.warning("cannot fill message %r (%s): %s", key, self.lang, exc)
            return template

    def _value_text(self, value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return str(value)
        if isinstance(value, int) or value.is_integer():
            return self.number(value)
        return self.number(value, 1)

    def _babel(self, local: datetime, pattern: str) -> str:
        return self._digits(
            format_datetime(local, pattern, tzinfo=local.tzinfo, locale=_babel_locale(self.lang))
        )

    def _digits(self, text: str) -> str:
        return text.translate(_ARABIC_INDIC) if self._rtl else text


class _Values(dict[str, str]):
    """Placeholder values; a placeholder nobody filled is logged and left blank instead of raising."""

    def __init__(self, key: str, lang: str) -> None:
        super().__init__()
        self._key = key
        self._lang = lang

    def __missing__(self, name: str) -> str:
        logger.warning("message %r (%s) has no value for {%s}", self._key, self._lang, name)
        return ""


@functools.cache
def _babel_locale(lang: str) -> Locale:
    """The parsed Babel locale (parsing it on every number would cost more than formatting the number)."""
    return Locale.parse(_BABEL_LOCALE[lang])


@functools.cache
def _number_pattern(decimals: int) -> NumberPattern:
    return parse_pattern("#,##0" if decimals == 0 else "#,##0.0")


def _round(value: float, decimals: int = 0) -> float:
    return float(Decimal(str(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def _isolate_latin_runs(template: str) -> str:
    """Wrap the Latin runs of an Arabic template's literal text in isolates, leaving {fields} alone."""
    out = []
    for literal, field, spec, conversion in _FORMATTER.parse(template):
        text = _LATIN_RUN.sub(lambda m: isolate(m.group()), literal)
        out.append(text.replace("{", "{{").replace("}", "}}"))
        if field is not None:
            suffix = (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            out.append(f"{{{field}{suffix}}}")
    return "".join(out)


def _warn_once(lang: str, key: str) -> None:
    if (lang, key) not in _warned:
        _warned.add((lang, key))
        logger.warning("message %r is missing from the %s catalogue", key, lang)


@functools.cache
def _translator(lang: str) -> Translator:
    fallback = None if lang == "en" else _translator("en")
    return Translator(lang, load_translations(lang), fallback)


def get_translator(lang: str) -> Translator:
    """The shared translator of ``lang`` ('ar', 'en', or a code like 'en-US'; anything else gives Arabic)."""
    return _translator(resolve_language(lang, None))
