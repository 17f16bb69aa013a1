"""The progress bar: drawn on a terminal only, never in the way of the items themselves."""

from __future__ import annotations

import io

import pytest

from bot.cli import progress as progress_module
from bot.cli.progress import progress


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_that_ends_full_on_its_own_line() -> None:
    out = Terminal()
    items = list(progress(range(7), total=7, label="importing", stream=out))
    assert items == list(range(7))
    text = out.getvalue()
    assert text.startswith("\rimporting [")
    assert text.endswith(f"\rimporting [{'#' * 30}] 7/7\n")


@pytest.mark.parametrize("stream", [io.StringIO(), None], ids=["pipe", "captured-stderr"])
def test_no_terminal_gets_nothing_and_every_item(
    stream: io.StringIO | None, capsys: pytest.CaptureFixture[str]
) -> None:
    items = list(progress(iter("abcde"), total=5, label="importing", stream=stream))
    assert items == list("abcde")
    if stream is not None:
        assert stream.getvalue() == ""
    assert capsys.readouterr() == ("", "")


def test_nothing_to_do_draws_nothing() -> None:
    out = Terminal()
    assert list(progress([], total=0, label="importing", stream=out)) == []
    assert out.getvalue() == ""


def test_redraws_are_limited_but_the_last_one_always_comes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: 1_000.0)  # time stands still
    out = Terminal()
    assert sum(progress(range(100), total=100, label="x", stream=out)) == sum(range(100))
    draws = out.getvalue().split("\r")[1:]
    assert [draw.split("] ")[1].strip() for draw in draws] == ["1/100", "100/100"]


def test_each_item_is_handed_over_before_its_count_is_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    ticks = iter(range(1, 1_000))
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: float(next(ticks)))  # a second a call
    out = Terminal()
    seen = [(item, out.getvalue().count("\r")) for item in progress(range(3), total=3, label="x", stream=out)]
    assert seen == [(0, 0), (1, 1), (2, 2)]
    assert out.getvalue().count("\r") == 3
