"""``ClosureQueries.relevant``: every closure a driver may hear of now, the same answer until it changes."""

from __future__ import annotations

from datetime import timedelta

from closures.lifecycle import Phase
from closures.queries import ClosureQueries
from closures.service import Actor

SYSTEM = Actor.system("cli")
HOUR = timedelta(hours=1)


def test_the_list_is_reused_until_a_closure_starts_enters_the_horizon_or_changes(
    engine, service, make_draft, clock
):
    queries = ClosureQueries(engine, clock=clock, horizon=2 * HOUR)
    soon = service.register("riyadh", make_draft(starts_at=clock.now + HOUR), SYSTEM)
    later = service.register(
        "riyadh", make_draft(starts_at=clock.now + 5 * HOUR, ends_at=clock.now + 8 * HOUR), SYSTEM
    )

    first = queries.relevant()
    assert [(f.closure.id, f.phase) for f in first.found] == [(soon.id, Phase.SCHEDULED)]
    assert first.until == clock.now + HOUR  # the next moment anything could change: ``soon`` starts
    clock.advance(HOUR / 2)
    assert queries.relevant() is first  # nothing changed: the same list, no work

    clock.advance(HOUR / 2)
    started = queries.relevant()
    assert [(f.closure.id, f.phase) for f in started.found] == [(soon.id, Phase.ACTIVE)]

    clock.advance(2 * HOUR)  # ``later`` is now within the two-hour horizon
    entered = queries.relevant()
    assert [f.closure.id for f in entered.found] == [soon.id, later.id]

    service.lift(soon.id, SYSTEM)
    changed = queries.relevant()
    assert changed is not entered
    assert soon.id not in [f.closure.id for f in changed.found]
