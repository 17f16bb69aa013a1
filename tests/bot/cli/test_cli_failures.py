"""``roadbot`` refusing: every failure is one line on stderr starting "roadbot:", with the exit code the
README documents (1 refused, 2 bad usage or input, 3 database), never a traceback — checked in-process and,
for the exit codes themselves, as a real process.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import build_parser, main
from bot.i18n import get_translator
from tests.bot.cli import support
from tests.bot.cli.support import (
    KING_FAHD,
    OLAYA_BLOCK,
    ROOT,
    SETTINGS_VARS,
    Cli,
    add_closure,
    instant,
    riyadh_local,
)

workdir = pytest.fixture(support.workdir)
fresh = pytest.fixture(support.fresh)
cli = pytest.fixture(support.cli)


# --- refusals: one line on stderr, the documented exit code ------------------------------------------------


def swapped(geometry: dict) -> dict:
    return {**geometry, "coordinates": [[lat, lon] for lon, lat in geometry["coordinates"]]}


def big_file(workdir: Path) -> str:
    path = workdir / "big.geojson"
    path.write_text(json.dumps(KING_FAHD) + " " * (10 * 1024 * 1024 + 1), encoding="utf-8")
    return str(path)


def in_the_past() -> str:
    return riyadh_local(datetime.now(UTC) - timedelta(hours=3))


EN = get_translator("en")
ADD = ("closure", "add", "--reason", "roadworks", "--title-ar", "إغلاق")
Argv = Callable[[Path], list[str]]

REFUSALS: list[tuple[str, Argv, int, str]] = [
    ("unknown municipality", lambda w: [*ADD, "--municipality", "nowhere", "--geometry", "24.71,46.67"], 2,
     "no municipality 'nowhere'"),
    ("broken geojson geometry", lambda w: [*ADD, "--municipality", "riyadh", "--geometry",
     '{"type": "LineString", "coordinates": [[46.6723]]}'], 2, EN.t("geo.unsupported_type")),
    ("geojson not closed", lambda w: [*ADD, "--municipality", "riyadh", "--geometry",
     '{"type": "LineString", "coordinates": [[46.6723, 24.6987]'], 2, EN.t("geo.not_json")),
    ("swapped lat and lon", lambda w: [*ADD, "--municipality", "riyadh", "--geometry",
     json.dumps(swapped(KING_FAHD))], 2, EN.t("geo.probably_swapped")),
    ("swapped typed pair", lambda w: [*ADD, "--municipality", "riyadh", "--geometry", "46.6744, 24.7114"], 2,
     "look swapped — did you mean 24.71140, 46.67440?"),
    ("outside the municipality", lambda w: [*ADD, "--municipality", "jeddah", "--geometry",
     "24.7114, 46.6744"], 1, EN.t("staff.refused.outside_municipality")),
    ("end before start", lambda w: [*ADD, "--municipality", "riyadh", "--geometry", "24.71,46.67",
     "--start", "2031-01-01 10:00", "--end", "2031-01-01 09:00"], 1, EN.t("staff.refused.end_before_start")),
    ("start three hours ago", lambda w: [*ADD, "--municipality", "riyadh", "--geometry", "24.71,46.67",
     "--start", in_the_past(), "--end", "6h"], 1, "--allow-past-start"),
    ("unreadable duration", lambda w: [*ADD, "--municipality", "riyadh", "--geometry", "24.71,46.67",
     "--end", "a while"], 2, EN.t("staff.time.not_time")),
    ("geometry file over 10 MB", lambda w: [*ADD, "--municipality", "riyadh", "--geometry", big_file(w)], 2,
     "larger than 10 MB"),
    ("lift a closure that does not exist", lambda w: ["closure", "lift", "999"], 1, "closure 999 not found"),
    ("history of a closure that does not exist", lambda w: ["closure", "history", "999"], 1, "not found"),
    ("latitude out of range", lambda w: ["near", "95", "46"], 2, EN.t("geo.lat_out_of_range")),
    ("not a coordinate", lambda w: ["near", "Olaya", "Street"], 2, "not a latitude,longitude pair"),
    ("infinite radius", lambda w: ["near", "24.71", "46.67", "--radius", "inf"], 2, "--radius"),
    ("negative radius", lambda w: ["near", "24.71", "46.67", "--radius=-5"], 2, "--radius"),
    ("export into a missing folder", lambda w: ["export", "-o", str(w / "missing" / "x.geojson")], 2,
     "No such file or directory"),
    ("municipality with an unknown zone", lambda w: ["municipality", "add", "mecca", "--name-ar", "مكة",
     "--name-en", "Makkah", "--boundary", json.dumps(OLAYA_BLOCK), "--timezone", "Asia/Makkah"], 2,
     "unknown time zone"),
    ("municipality with a CRS in degrees", lambda w: ["municipality", "add", "mecca", "--name-ar", "مكة",
     "--name-en", "Makkah", "--boundary", json.dumps(OLAYA_BLOCK), "--epsg", "4326"], 2, "EPSG:4326"),
    ("municipality with Web Mercator", lambda w: ["municipality", "add", "mecca", "--name-ar", "مكة",
     "--name-en", "Makkah", "--boundary", json.dumps(OLAYA_BLOCK), "--epsg", "3857"], 2,
     "EPSG:3857 distorts distances by up to 10."),
    ("municipality boundary that is a line", lambda w: ["municipality", "add", "mecca", "--name-ar", "مكة",
     "--name-en", "Makkah", "--boundary", json.dumps(KING_FAHD)], 2, "must be a polygon"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "code", "says"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_refusals_are_one_line_with_the_documented_exit_code(
    cli: Cli, workdir: Path, argv: Argv, code: int, says: str
) -> None:
    result = cli(*argv(workdir))
    assert result.code == code, result.err
    assert result.out == ""
    assert result.err.startswith("roadbot: ")
    assert result.err.count("\n") == 1
    assert says in result.err
    assert "Traceback" not in result.err
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", result.err.replace("--allow-past-start", "")), result.err


def test_a_refused_municipality_leaves_every_other_command_working(cli: Cli) -> None:
    bad = cli("municipality", "add", "mecca", "--name-ar", "مكة", "--name-en", "Makkah",
              "--boundary", json.dumps(OLAYA_BLOCK), "--timezone", "Mars/Olympus")  # fmt: skip
    assert bad.code == 2
    add_closure(cli, "--end", "3h")
    assert cli("closure", "list").code == 0
    assert "mecca" not in cli("municipality", "list").ok()


def test_extend_needs_an_end(cli: Cli) -> None:
    closure_id = str(add_closure(cli, "--end", "3h")["id"])
    result = cli("closure", "extend", closure_id, "open")
    assert result.code == 2
    assert result.err == "roadbot: bad input: extend needs an end time or a duration\n"


def test_a_start_in_the_past_is_accepted_when_asked_for(cli: Cli) -> None:
    props = add_closure(cli, "--start", in_the_past(), "--end", "6h", "--allow-past-start")["properties"]
    assert instant(props["starts_at"]) < datetime.now(UTC) - timedelta(hours=2)


def test_a_database_never_upgraded_is_exit_3_and_says_what_to_run(fresh: Cli) -> None:
    for argv in (("closure", "list"), ("near", "24.71", "46.67"), ("staff", "list")):
        result = fresh(*argv)
        assert result.code == 3, result.err
        assert result.err.startswith("roadbot: database problem:")
        assert "roadbot db upgrade" in result.err


def test_an_unreachable_postgresql_server_is_exit_3(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("psycopg")
    result = Cli("postgresql://nobody@127.0.0.1:1/x", capsys)("closure", "list")
    assert result.code == 3
    assert result.err.startswith("roadbot: database problem:")
    assert result.err.count("\n") == 1


def test_a_bad_setting_in_the_environment_is_one_line_exit_2(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HORIZON_HOURS", "soon")
    result = cli("closure", "list")
    assert result.code == 2
    assert result.err.startswith("roadbot: bad configuration: horizon_hours")
    assert result.err.count("\n") == 1


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["closure"],
        ["closure", "bogus"],
        ["closure", "add", "--municipality", "riyadh"],
        [
            "closure",
            "add",
            "--municipality",
            "riyadh",
            "--geometry",
            "1,2",
            "--title-ar",
            "x",
            "--reason",
            "nope",
        ],
        ["closure", "lift", "one"],
        ["near"],
        ["staff", "add", "not-a-number", "--municipality", "riyadh"],
        ["--no-such-option", "db", "upgrade"],
    ],
)
def test_usage_errors_exit_2(fresh: Cli, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "usage: roadbot" in err
    assert "Traceback" not in err


def command_paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and subcommand of ``parser``, as the words that reach it."""
    yield prefix
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from command_paths(sub, (*prefix, name))


ALL_COMMANDS = list(command_paths(build_parser()))


def test_every_documented_command_exists() -> None:
    for words in [("db", "upgrade"), ("municipality", "load"), ("staff", "add"), ("closure", "extend"),
                  ("closure", "history"), ("near",), ("import",), ("export",), ("demo",)]:  # fmt: skip
        assert words in ALL_COMMANDS


@pytest.mark.parametrize("words", ALL_COMMANDS, ids=[" ".join(w) or "roadbot" for w in ALL_COMMANDS])
def test_help_works_for_every_command(words: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main([*words, "--help"])
    assert caught.value.code == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"usage: roadbot {' '.join(words)}".rstrip())
    assert err == ""


# --- as a real process -----------------------------------------------------------------------------------


def roadbot(workdir: Path, *argv: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``python -m bot.cli …`` with no roadbot settings but ``env``."""
    base = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARS}
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *argv],
        cwd=workdir,
        env={**base, "PYTHONPATH": str(ROOT), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_real_process_exits_with_each_documented_code_and_never_a_traceback(
    cli: Cli, workdir: Path
) -> None:
    url = ["--database-url", cli.url]
    never = ["--database-url", f"sqlite:///{workdir / 'never.sqlite'}"]
    add_closure(cli, "--end", "3h")
    cases: list[tuple[list[str], dict[str, str], int, str]] = [
        (["--help"], {}, 0, ""),
        ([*url, "near", "24.7114", "46.6744", "--json"], {}, 0, ""),
        ([*url, "closure", "lift", "999"], {}, 1, "roadbot: refused: closure 999 not found"),
        ([*url, "near", "95", "46"], {}, 2, "roadbot: bad input: The latitude is out of range"),
        ([*url, "closure", "bogus"], {}, 2, "usage: roadbot closure"),
        ([*url, "near", "24.7", "46.6"], {"DEFAULT_RADIUS_M": "5"}, 2,
         "roadbot: bad configuration: default_radius_m"),
        ([*never, "closure", "list"], {}, 3, "roadbot: database problem: no database at "),
    ]  # fmt: skip
    if importlib.util.find_spec("psycopg") is not None:
        cases.append((["--database-url", "postgresql://nobody@127.0.0.1:1/x", "closure", "list"], {}, 3,
                      "roadbot: database problem: "))  # fmt: skip
    running = [(argv, code, says, roadbot(workdir, *argv, env=env)) for argv, env, code, says in cases]
    for argv, code, says, process in running:
        out, err = process.communicate(timeout=120)
        assert process.returncode == code, (argv, err)
        assert "Traceback" not in err, argv
        assert err.startswith(says), (argv, err)
        if says.startswith("roadbot:"):
            assert err.count("\n") == 1, argv
        if code == 0:
            assert out


def test_a_real_process_shows_the_traceback_when_asked_with_v(workdir: Path) -> None:
    process = roadbot(
        workdir, "-v", "--database-url", f"sqlite:///{workdir / 'never.sqlite'}", "closure", "list"
    )
    _, err = process.communicate(timeout=120)
    assert process.returncode == 3
    assert "Traceback" in err
    assert err.rstrip().endswith("create it with `roadbot db upgrade`")


def test_every_exit_code_is_documented_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    for code, meaning in ((0, "done"), (1, "refused"), (2, "bad usage"), (3, "database"), (70, "internal")):
        assert f"{code} {meaning}" in out
