"""The incremental SLA book equals a full recount at every instant, whatever the changes."""

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from maild.sla.book import SlaBook
from maild.sla.business_time import BusinessCalendar, Window
from maild.sla.policy import ClockPolicy, SlaPolicy
from maild.sla.presets import load_sla_preset
from maild.sla.snapshot import DUE_BUCKETS, Waiting, snapshot

NOW = datetime(2026, 3, 27, 10, tzinfo=UTC)  # Europe/Berlin springs forward on the 29th
SPLIT = BusinessCalendar(
    zone=ZoneInfo("Europe/Berlin"),
    week=((Window.parse("09:00-12:00"), Window.parse("13:30-18:00")),) * 5 + ((), ()),
)
POLICIES: dict[str, SlaPolicy | None] = {
    "douyin": load_sla_preset("douyin"),
    "amazon": load_sla_preset("amazon"),
    # The team's own target on split shifts comes before Walmart's 48 h wall clock.
    "team": SlaPolicy(
        "team",
        ClockPolicy({"default": timedelta(hours=48), "urgent": timedelta(hours=1)}),
        ClockPolicy({"default": timedelta(hours=8), "customer-care": timedelta(hours=2)}, SPLIT),
        due_soon_ratio=0.4,
    ),
    "unwatched": None,
}
TAGS = ((), ("urgent",), ("customer-care",), ("urgent", "pre-sale"))


def edges(book_items: dict[int, Waiting], now: datetime) -> list[datetime]:
    """Instants where some conversation changes place: the steps the book must not miss."""
    found = []
    for item in book_items.values():
        policy = POLICIES.get(item.mailbox)
        if policy is None:
            continue
        due = snapshot([item], {item.mailbox: policy}, item.since).next_deadline[item.mailbox]
        found += [due - within for _, within in DUE_BUCKETS]
        found += [due, due + timedelta(microseconds=1)]
    return [at for at in found if at > now]


def replay(seed: int, steps: int) -> None:
    rng = random.Random(seed)
    now = NOW
    waiting: dict[int, Waiting] = {}
    book = SlaBook(POLICIES, now)
    for _ in range(steps):
        action = rng.random()
        if action < 0.45:
            thread = rng.randrange(60)
            since = now - timedelta(minutes=rng.randrange(0, 60 * 72))
            item = Waiting(rng.choice(list(POLICIES)), since, rng.choice(TAGS))
            waiting[thread] = item
            book.put(thread, item)
        elif action < 0.6 and waiting:
            thread = rng.choice(sorted(waiting))
            del waiting[thread]
            book.put(thread, None)
        elif action < 0.8:
            later = edges(waiting, now)
            now = rng.choice(later) if later and rng.random() < 0.7 else now
            now += timedelta(minutes=rng.randrange(0, 300)) if rng.random() < 0.3 else timedelta()
            book.advance(now)
        elif action < 0.83:
            now -= timedelta(minutes=rng.randrange(1, 120))  # a clock set back
            book.advance(now)
        else:
            now += timedelta(seconds=rng.randrange(0, 3600 * 30))
            book.advance(now)
        assert book.snapshot() == snapshot(waiting.values(), POLICIES, now), (seed, now)


@pytest.mark.parametrize("seed", range(6))
def test_changes_and_clock_moves_give_the_same_gauges_as_a_full_recount(seed: int) -> None:
    replay(seed, 300)


def test_new_policies_recount_every_conversation() -> None:
    book = SlaBook(POLICIES, NOW)
    items = {n: Waiting("team", NOW - timedelta(hours=n), ()) for n in range(1, 10)}
    for thread, item in items.items():
        book.put(thread, item)
    stricter = {"team": load_sla_preset("amazon")}

    book.configure(stricter)

    assert book.snapshot() == snapshot(items.values(), stricter, NOW)


def test_a_quiet_tick_recounts_no_conversation() -> None:
    """Between steps nothing is recounted: the heap's head is ahead of the clock."""
    book = SlaBook(POLICIES, NOW)
    for thread in range(1000):
        book.put(thread, Waiting("amazon", NOW - timedelta(minutes=thread), ()))
    book.advance(NOW + timedelta(minutes=1))

    book.advance(NOW + timedelta(minutes=1, seconds=30))
    quiet = book.recounted
    book.advance(NOW + timedelta(minutes=2))

    # Waits start a minute apart, so steps fall on whole minutes: none in the first 30 s;
    # in the next, the few conversations a step of Amazon's 24 h reaches (12 h, 18 h...).
    assert (quiet, 0 < book.recounted <= 5) == (0, True)
