"""``roadbot import --format cap``: a met service's alerts from a file or from a partner server on 127.0.0.1
become drafts (a report, ``--json``), again change nothing, and every bad input has its exit code: 2 not
CAP or an XML bomb, 1 an Update whose references are unknown, 4 a feed that cannot be fetched."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.bot.cli import support
from tests.bot.cli.support import Cli
from tests.closures.cap_support import moved, sample
from tests.fakes.partner_feed import PartnerFeedServer

workdir = pytest.fixture(support.workdir)
cli = pytest.fixture(support.cli)
NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)  # the samples' morning, moved to now


def _file(workdir: Path, name: str) -> str:
    path = workdir / name
    path.write_bytes(moved(sample(name), NOW))
    return str(path)


@pytest.fixture
def server() -> Iterator[PartnerFeedServer]:
    with PartnerFeedServer().running() as running:
        running.paths = {
            "/cap.atom": moved(sample("ncm_feed.atom"), NOW),
            "/alerts/NCM-RYD-2026-11-27-0042.xml": moved(sample("ncm_flood_riyadh.xml"), NOW),
        }
        yield running


def test_an_alert_file_is_drafted_and_importing_it_again_changes_nothing(cli: Cli, workdir):
    cli("staff", "add", "1001", "--municipality", "riyadh").ok()
    alert = _file(workdir, "ncm_flood_riyadh.xml")
    first = cli("import", "--format", "cap", alert, "--json").json()
    assert (first["drafted"], first["rejected"], first["outside"]) == (1, [], [])
    again = cli("import", "--format", "cap", alert)
    assert again.ok().startswith("drafted 0, replaced 0, withdrawn 0, expired 0, noted 0, unchanged 1")
    listed = cli("emergency", "list", "--json").json()
    assert listed["emergencies"] == [], "a draft is not an emergency in force: nothing is declared"


def test_an_update_file_replaces_the_draft_and_a_cancel_withdraws_it(cli: Cli, workdir):
    cli("import", "--format", "cap", _file(workdir, "ncm_flood_riyadh.xml")).ok()
    update = cli("import", "--format", "cap", _file(workdir, "ncm_flood_riyadh_update.xml"), "--json").json()
    assert update["replaced"] == 1
    cancel = cli("import", "--format", "cap", _file(workdir, "ncm_flood_riyadh_cancel.xml"), "--json").json()
    assert cancel["withdrawn"] == 1


def test_an_atom_url_is_read_with_its_linked_alerts(cli: Cli, server):
    run = cli("import", "--format", "cap", server.url("/cap.atom"))
    assert run.code == 1, "one entry of the feed is not an alert: refused, the rest drafted"
    assert run.out.startswith("drafted 2, ")
    assert "refused urn:ncm:notice:weekly-outlook: neither embeds a CAP alert nor links to one" in run.err
    assert "/alerts/NCM-RYD-2026-11-27-0042.xml" in server.requests


def test_an_update_whose_references_are_unknown_is_refused_with_exit_1(cli: Cli, workdir):
    run = cli("import", "--format", "cap", _file(workdir, "ncm_flood_riyadh_update.xml"))
    assert run.code == 1
    assert run.out.startswith("drafted 0,")
    assert (
        "roadbot: refused alerts@ncm.example.sa NCM-RYD-2026-11-27-0043: its references "
        "(alerts@ncm.example.sa,NCM-RYD-2026-11-27-0042) name no alert read here"
    ) in run.err


def test_an_alert_read_after_its_expiry_is_said_so(cli: Cli, workdir):
    path = workdir / "old.xml"
    path.write_bytes(moved(sample("ncm_flood_riyadh.xml"), NOW - timedelta(days=2)))
    run = cli("import", "--format", "cap", str(path))
    assert run.code == 0
    assert "expired 1" in run.out
    assert "NCM-RYD-2026-11-27-0042: expired at" in run.err
    assert "nothing drafted" in run.err


def test_an_area_outside_every_municipality_is_reported(cli: Cli, workdir):
    path = workdir / "empty-quarter.xml"
    path.write_bytes(
        moved(sample("ncm_flood_riyadh.xml"), NOW)
        .replace(
            b"24.30,46.30 24.30,47.30 25.20,47.30 25.20,46.30 24.30,46.30", b"20,50 20,51 21,51 21,50 20,50"
        )
        .replace(
            b"24.55,46.60 24.55,46.90 24.70,46.90 24.70,46.60 24.55,46.60", b"20,50 20,51 21,51 21,50 20,50"
        )
        .replace(b"<circle>24.6100,46.8300 3</circle>", b"")
    )
    run = cli("import", "--format", "cap", str(path), "--json")
    report = run.json()
    assert report["drafted"] == 0
    assert report["outside"] == [
        {
            "alert": "alerts@ncm.example.sa NCM-RYD-2026-11-27-0042",
            "area": "منطقة الرياض: الرياض، الخرج، الدرعية; وادي السلي ووادي حنيفة",
        }
    ]


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("xml_bomb.xml", "refused: the document declares a DTD or entities"),
        ("municipalities.geojson", "not XML"),
    ],
)
def test_a_file_that_is_not_cap_is_bad_input(cli: Cli, workdir, name, words):
    path = workdir / name
    path.write_bytes(sample(name) if name.endswith(".xml") else (support.DATA / name).read_bytes())
    run = cli("import", "--format", "cap", str(path))
    assert run.code == 2
    assert run.out == ""
    assert run.err.startswith("roadbot: bad input: not a CAP alert or feed: ")
    assert words in run.err


def test_a_feed_that_cannot_be_fetched_exits_4_and_prune_makes_no_sense_for_cap(cli: Cli, server, workdir):
    server.mode = "error"
    run = cli("import", "--format", "cap", server.url("/cap.atom"))
    assert run.code == 4
    assert "HTTP 500" in run.err
    prune = cli("import", "--format", "cap", _file(workdir, "ncm_flood_riyadh.xml"), "--prune")
    assert prune.code == 2
    assert "--prune does not apply to CAP" in prune.err
    unknown = cli(
        "import", "--format", "cap", _file(workdir, "ncm_flood_riyadh.xml"), "--municipality", "mecca"
    )
    assert unknown.code == 2
    assert "no municipality 'mecca'" in unknown.err
