"""``bot.web.json_pieces.compact_json``: json.dumps's exact bytes, whatever the shape."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.web.json_pieces import BIG, compact_json, release_in_steps


def reference(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


FEATURES = [
    {"type": "Feature", "id": i, "properties": {"title": f"إغلاق رقم {i}", "x": i / 3}} for i in range(500)
]


@pytest.mark.parametrize(
    "value",
    [
        {"type": "FeatureCollection", "features": FEATURES, "summary": "٣ إغلاقات"},
        {
            "features": FEATURES,
            "nested": {"deep": FEATURES},
        },  # deeper lists in one call: still the same bytes
        FEATURES,
        {"road_event_feed_info": {"version": "4.2"}, "type": "FeatureCollection", "features": []},
        {"short": list(range(BIG))},  # not long enough to be cut
        {1: "int keys", "two": [None, True, 1.5]},  # json.dumps turns keys into strings: so must we
        {},
        [],
        "just a string «»",
        None,
        {'quote"key': ["line\nbreak", "\u2028"] * 100},
    ],
)
def test_the_same_bytes_as_json_dumps(value: Any):
    assert compact_json(value) == reference(value)


def test_a_value_json_cannot_encode_is_refused_the_same_way():
    with pytest.raises(TypeError, match="not JSON serializable"):
        compact_json({"features": [object()] * (BIG + 1)})


def test_release_in_steps_empties_the_long_lists_it_would_have_cut():
    value = {
        "features": [{"id": i} for i in range(BIG * 5)],
        "short": [1, 2],
        "nested": {"deep": list(range(500))},
    }
    body = compact_json(value)

    release_in_steps(value)

    assert value["features"] == []
    assert value["short"] == [1, 2]  # short lists are freed with their owner as usual
    assert len(value["nested"]["deep"]) == 500  # two levels down: encoded in one call, freed as usual
    assert body == reference(
        {
            "features": [{"id": i} for i in range(BIG * 5)],
            "short": [1, 2],
            "nested": {"deep": list(range(500))},
        }
    )
