"""twitter-text-parser without setuptools: its emoji table read through importlib.resources, X's weights
as X documents them (Latin and Arabic letters 1, CJK 2, any emoji 2, a URL 23), and no pkg_resources left
behind for anything else to find."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest
import twitter_text.regexp

from bot.text.twittertext import parse_tweet, pkg_resources_stand_in, resource_string

ROOT = Path(__file__).resolve().parents[3]
FAMILY = "\U0001f469\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # one emoji of seven code points
SAMPLES = {
    "abc": 3,
    "مرحبا": 5,
    "日本": 4,
    FAMILY: 2,
    "إغلاق 🚧": 8,
    "https://example.org/a/very/long/path/that/is/still/one/link": 23,
}


def test_x_weighs_letters_emoji_and_links_as_documented():
    assert {text: parse_tweet(text).weightedLength for text in SAMPLES} == SAMPLES


def test_without_pkg_resources_twitter_text_loads_and_pkg_resources_stays_absent():
    probe = (
        "import sys, json; sys.modules['pkg_resources'] = None\n"  # as where setuptools >= 81 has none
        "from bot.text.twittertext import parse_tweet\n"
        f"weights = {{t: parse_tweet(t).weightedLength for t in {list(SAMPLES)!r}}}\n"
        "try:\n    import pkg_resources\n    left = True\nexcept ImportError:\n    left = False\n"
        "print(json.dumps({'weights': weights, 'pkg_resources_left': left}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False
    )

    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["weights"] == SAMPLES
    assert found["pkg_resources_left"] is False
    assert "Warning" not in done.stderr


def test_resource_string_reads_the_file_beside_the_module():
    on_disk = (Path(twitter_text.regexp.__file__).parent / "emoji-test.txt").read_bytes()

    assert resource_string("twitter_text.regexp", "emoji-test.txt") == on_disk


def test_the_stand_in_lives_only_inside_the_block(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delitem(sys.modules, "pkg_resources", raising=False)

    with pkg_resources_stand_in():
        import pkg_resources

        assert pkg_resources.resource_string is resource_string
    assert "pkg_resources" not in sys.modules


def test_a_real_pkg_resources_already_loaded_is_left_alone(monkeypatch: pytest.MonkeyPatch):
    real = types.ModuleType("pkg_resources")
    monkeypatch.setitem(sys.modules, "pkg_resources", real)

    with pkg_resources_stand_in():
        assert sys.modules["pkg_resources"] is real
    assert sys.modules["pkg_resources"] is real
