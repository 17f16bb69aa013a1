"""``roadbot emergency`` and ``roadbot playbook`` as an operator drives them: a playbook in and out as
GeoJSON, an emergency declared, previewed, updated, listed, shown and ended — with ``--json`` for scripts,
one-line refusals and the exit codes of the house (0 done, 1 refused, 2 bad input)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.bot.cli import support
from tests.bot.cli.support import Cli
from tests.closures.emergency_support import CENTRE, khurais_playbook, square

workdir = pytest.fixture(support.workdir)
cli = pytest.fixture(support.cli)
AREA = json.dumps({"type": "Polygon", "coordinates": [list(square(CENTRE, 1000).exterior.coords)]})


@pytest.fixture
def playbook_file(tmp_path: Path) -> Path:
    """The Khurais Rd playbook as a GIS desk would write its GeoJSON file (the format of the README)."""
    draft = khurais_playbook()
    document = {
        "type": "FeatureCollection",
        "playbook": {"slug": draft.slug, "name_ar": draft.name_ar, "name_en": draft.name_en,
                     "hazard": draft.hazard, "area": json.loads(json.dumps(draft.area.__geo_interface__))},
        "features": [
            {"type": "Feature", "geometry": c.geometry.__geo_interface__,
             "properties": {"title_ar": c.title_ar, "title_en": c.title_en, "reason": c.reason,
                            "detour_ar": c.detour_ar, "detour_en": c.detour_en,
                            "duration_min": c.duration_min}}
            for c in draft.closures
        ],
    }  # fmt: skip
    path = tmp_path / "khurais.geojson"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def test_a_playbook_goes_in_lists_shows_comes_out_the_same_and_is_removed(cli: Cli, playbook_file, tmp_path):
    saved = cli("playbook", "import", str(playbook_file), "--municipality", "riyadh", "--json").json()
    assert (saved["slug"], saved["closures"], saved["has_area"]) == ("khurais-underpasses", 3, True)

    listed = cli("playbook", "list", "--municipality", "riyadh", "--json").json()
    assert [p["slug"] for p in listed["playbooks"]] == ["khurais-underpasses"]
    shown = cli("playbook", "show", "khurais-underpasses", "--municipality", "riyadh").ok()
    assert "Khurais underpass 3 (for 120 min) — detour: Use the Eastern Ring Rd" in shown
    out = tmp_path / "out.geojson"
    cli("playbook", "export", "khurais-underpasses", "--municipality", "riyadh", "-o", str(out)).ok()
    exported = json.loads(out.read_text(encoding="utf-8"))
    assert exported["playbook"]["slug"] == "khurais-underpasses"
    assert [f["properties"]["title_en"] for f in exported["features"]] == [
        f"Khurais underpass {i}" for i in (1, 2, 3)
    ]

    again = cli("playbook", "import", str(out), "--municipality", "riyadh")
    assert again.code == 1
    assert "duplicate" in again.err
    assert cli("playbook", "import", str(out), "--municipality", "riyadh", "--replace").code == 0
    shown_again = cli("playbook", "show", "khurais-underpasses", "--municipality", "riyadh", "--json").json()
    assert shown_again == exported

    assert cli("playbook", "remove", "khurais-underpasses", "--municipality", "riyadh").code == 0
    gone = cli("playbook", "show", "khurais-underpasses", "--municipality", "riyadh")
    assert (gone.code, gone.err.startswith("roadbot: refused:")) == (1, True)


def test_a_file_that_is_not_a_playbook_is_bad_input(cli: Cli, tmp_path: Path):
    path = tmp_path / "broken.geojson"
    path.write_text("{not json", encoding="utf-8")
    run = cli("playbook", "import", str(path), "--municipality", "riyadh")
    assert run.code == 2
    assert run.err.startswith("roadbot: bad input:")
    outside = {"type": "FeatureCollection", "playbook": {"slug": "x", "name_ar": "س", "name_en": "X"},
               "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [39.17, 21.54]},
                             "properties": {"title_ar": "جدة"}}]}  # fmt: skip
    path.write_text(json.dumps(outside), encoding="utf-8")
    run = cli("playbook", "import", str(path), "--municipality", "riyadh")
    assert run.code == 2
    assert "closure 1: outside_municipality" in run.err


def test_an_emergency_is_previewed_declared_updated_listed_shown_and_ended(cli: Cli, playbook_file):
    cli("playbook", "import", str(playbook_file), "--municipality", "riyadh").ok()
    declare = ("emergency", "declare", "--municipality", "riyadh", "--hazard", "flood", "--level", "alarm",
               "--area", AREA, "--expires", "6h", "--playbook", "khurais-underpasses")  # fmt: skip

    plan = cli(*declare, "--dry-run", "--json").json()
    assert plan["closures"] == [f"Khurais underpass {i}" for i in (1, 2, 3)]
    assert plan["reach"] == {"subscribers": 0, "drivers": 0, "staff": 0, "total": 0}
    assert cli("emergency", "list", "--json").json()["count"] == 0  # a dry run writes nothing

    made = cli(*declare, "--json").json()
    assert (made["version"], made["msg_type"], made["cap_severity"]) == (1, "alert", "Extreme")
    assert made["headline_en"] == "Red alarm: Flooding in Riyadh Municipality"  # proposed
    assert len(made["closures"]) == 3
    expires = datetime.fromisoformat(made["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(hours=6))) < timedelta(minutes=1)
    first = made["first_id"]

    updated = cli("emergency", "update", str(first), "--level", "warning", "--version", "1", "--json").json()
    assert (updated["version"], updated["msg_type"], updated["level"]) == (2, "update", "warning")
    stale = cli("emergency", "update", str(first), "--level", "advice", "--version", "1")
    assert (stale.code, "version 2" in stale.err) == (1, True)

    listed = cli("emergency", "list", "--json").json()
    assert [(e["first_id"], e["version"]) for e in listed["emergencies"]] == [(first, 2)]
    text = cli("emergency", "list").ok()
    assert f"#{first}" in text
    assert "in force" in text

    ended = cli("emergency", "end", str(first), "--json").json()
    assert (ended["version"], ended["msg_type"], len(ended["changed"])) == (3, "cancel", 2)
    assert cli("emergency", "list", "--json").json()["count"] == 0
    shown = cli("emergency", "show", str(first), "--json").json()
    assert [h["action"] for h in shown["history"]] == ["declared", "updated", "ended"]
    assert [c["status"] for c in shown["closures"]] == ["lifted", "lifted", "open"]
    again = cli("emergency", "end", str(first))
    assert (again.code, "already_ended" in again.err) == (1, True)


def test_an_area_larger_than_the_municipality_is_cut_and_the_operator_told_by_how_much(cli: Cli):
    huge = json.dumps({"type": "Polygon", "coordinates": [[[45.85, 23.86], [47.65, 23.86], [47.65, 25.65],
                                                           [45.85, 25.65], [45.85, 23.86]]]})  # fmt: skip
    run = cli("emergency", "declare", "--municipality", "riyadh", "--hazard", "sandstorm", "--level", "alert",
              "--area", huge, "--expires", "3h")  # fmt: skip
    assert run.code == 0, run.err
    assert "% of the area given cut off at the boundary" in run.out
    share = int(run.out.split("% of the area given")[0].rsplit(" ", 1)[1])
    assert 85 <= share <= 95


@pytest.mark.parametrize(
    ("extra", "code", "says"),
    [
        (("--area", "POLYGON ((46.70 24.70, 46.72 24.72, 46.72 24.70, 46.70 24.72, 46.70 24.70))"), 2,
         "self_intersecting"),
        (("--area", "POLYGON EMPTY"), 2, "empty"),
        (("--area", "POLYGON ((39.1 21.5, 39.2 21.5, 39.2 21.6, 39.1 21.5))"), 1, "outside_municipality"),
        (("--whole", "--expires-override", "2020-01-01 10:00"), 1, "expiry_in_past"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_in_one_line_and_nothing_is_declared(cli: Cli, extra, code, says):
    expires = "6h"
    if "--expires-override" in extra:
        extra, expires = extra[:1], extra[2]
    run = cli("emergency", "declare", "--municipality", "riyadh", "--hazard", "flood", "--level", "alarm",
              *extra, "--expires", expires)  # fmt: skip
    assert run.code == code
    assert says in run.err
    assert len(run.err.strip().splitlines()) == 1
    assert cli("emergency", "list", "--all", "--json").json()["count"] == 0


def test_every_emergency_command_has_help(cli: Cli, capsys):
    for command in (("emergency",), ("emergency", "declare"), ("emergency", "update"), ("emergency", "end"),
                    ("emergency", "list"), ("emergency", "show"), ("playbook",), ("playbook", "import"),
                    ("playbook", "export")):  # fmt: skip
        with pytest.raises(SystemExit) as done:
            cli(*command, "--help")
        assert done.value.code == 0
