"""The command line as an operator meets it when something is wrong: a mistyped database path, input that
cannot be read, a Feature carrying its own times, a migration that takes a moment."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.i18n import get_translator
from tests.bot.cli import support
from tests.bot.cli.support import KING_FAHD, Cli, add_closure, instant, riyadh_local
from tests.conftest import ROOT

workdir = pytest.fixture(support.workdir)
fresh = pytest.fixture(support.fresh)
cli = pytest.fixture(support.cli)
EN = get_translator("en")


@pytest.mark.parametrize(
    "argv",
    [["closure", "list"], ["db", "current"], ["near", "24.7", "46.6"], ["municipality", "list"],
     ["staff", "list"], ["export"]],
)  # fmt: skip
def test_a_mistyped_sqlite_path_is_refused_and_never_created(
    fresh: Cli, workdir: Path, argv: list[str]
) -> None:
    missing = workdir / "typo" / "roadbto.sqlite"
    result = Cli(f"sqlite:///{missing}", fresh._capsys)(*argv)
    assert result.code == 3
    assert result.err.startswith(f"roadbot: database problem: no database at {missing}")
    assert "roadbot db upgrade" in result.err
    assert not missing.exists()
    assert not missing.parent.exists()


def test_db_upgrade_creates_the_database_that_others_refuse(fresh: Cli, workdir: Path) -> None:
    assert fresh("closure", "list").code == 3
    assert fresh("db", "upgrade").code == 0
    assert (workdir / "x.sqlite").exists()
    assert fresh("closure", "list").code == 0


def test_db_upgrade_shows_its_progress_on_a_terminal(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    n = len(list((ROOT / "closures" / "migrations" / "versions").glob("[0-9]*.py")))
    monkeypatch.setattr("sys.stderr", terminal)
    assert main(["--database-url", f"sqlite:///{workdir / 'new.sqlite'}", "db", "upgrade"]) == 0
    drawn = terminal.getvalue()
    assert "migrating [" in drawn
    assert f"{n}/{n}" in drawn  # every migration, counted
    assert capsys.readouterr().out.startswith("database at revision ")


@pytest.mark.parametrize(
    ("argv", "sentence"),
    [
        (["near", "95", "46"], EN.t("geo.lat_out_of_range")),
        (["closure", "add", "--municipality", "riyadh", "--reason", "roadworks", "--title-ar", "س",
          "--geometry", "POLYGON ((46.6 24.7, 46.7 24.7, 46.7 24.8))"], EN.t("geo.ring_not_closed")),
        (["closure", "add", "--municipality", "riyadh", "--reason", "roadworks", "--title-ar", "س",
          "--geometry", "LINESTRING (46.6 24.7, 46.7"], EN.t("geo.not_wkt")),
        (["closure", "add", "--municipality", "riyadh", "--reason", "roadworks", "--title-ar", "س",
          "--geometry", json.dumps(KING_FAHD), "--start", "tomorrow-ish"], EN.t("staff.time.not_time")),
    ],
)  # fmt: skip
def test_errors_say_the_users_problem_in_a_sentence_not_an_internal_code(
    cli: Cli, argv: list[str], sentence: str
) -> None:
    result = cli(*argv)
    assert result.code == 2
    assert result.err.startswith(f"roadbot: bad input: {sentence}")
    for internal in ("_", "Exception", "GEOS", "LinearRing"):
        assert internal not in result.err.split("(got")[0], result.err


def test_a_refusal_is_a_sentence_too(cli: Cli) -> None:
    later = datetime.now(UTC) + timedelta(hours=3)
    result = cli(
        "closure", "add", "--municipality", "riyadh", "--reason", "roadworks", "--title-ar", "س",
        "--geometry", json.dumps(KING_FAHD), "--start", riyadh_local(later),
        "--end", riyadh_local(later - timedelta(hours=1)),
    )  # fmt: skip
    assert result.code == 1
    assert result.err.startswith(f"roadbot: refused: {EN.t('staff.refused.end_before_start')}")


def feature(**properties: str) -> str:
    return json.dumps({"type": "Feature", "geometry": KING_FAHD, "properties": properties})


def test_a_features_own_start_and_end_are_used(cli: Cli) -> None:
    start = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    end = start + timedelta(hours=5)
    added = add_closure(cli, geometry=feature(starts_at=start.isoformat(), ends_at=end.isoformat()))
    assert instant(added["properties"]["starts_at"]) == start
    assert instant(added["properties"]["ends_at"]) == end


def test_a_features_times_agreeing_with_the_flags_are_fine_and_disagreeing_ones_refused(cli: Cli) -> None:
    start = (datetime.now(UTC) + timedelta(hours=2)).replace(second=0, microsecond=0)
    text = feature(starts_at=start.isoformat())
    agreed = add_closure(cli, "--start", riyadh_local(start), geometry=text)
    assert instant(agreed["properties"]["starts_at"]) == start

    other = riyadh_local(start + timedelta(hours=1))
    refused = cli("closure", "add", "--municipality", "riyadh", "--reason", "roadworks", "--title-ar", "س",
                  "--geometry", text, "--start", other)  # fmt: skip
    assert refused.code == 2
    assert refused.err == (
        f"roadbot: bad input: the Feature's starts_at ({start.isoformat()}) and --start ({other}) disagree: "
        "give one\n"
    )


def test_several_features_with_their_own_times_go_to_import(cli: Cli) -> None:
    start = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    member = {"type": "Feature", "geometry": KING_FAHD, "properties": {"starts_at": start}}
    collection = json.dumps({"type": "FeatureCollection", "features": [member, member]})
    refused = cli("closure", "add", "--municipality", "riyadh", "--reason", "roadworks", "--title-ar", "س",
                  "--geometry", collection)  # fmt: skip
    assert refused.code == 2
    assert "roadbot import" in refused.err
