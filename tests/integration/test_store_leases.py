"""Leases and the outbox claim on the real PostgreSQL, where instances share one database."""

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

from maild.outbound.outbox import claim
from maild.store import Store, leases, outbox
from maild.store.leases import Round

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 11, 24, 4, tzinfo=UTC)
PERIOD = timedelta(seconds=30)
BOXES = [f"shop-{n:02}" for n in range(12)]


@pytest.fixture
def store(fresh_postgres_url: str) -> Iterator[Store]:
    opened = Store.open(fresh_postgres_url)
    opened.ensure_mailboxes({box: f"{box}@shop.example" for box in BOXES}, NOW)
    yield opened
    opened.close()


def renew(store: Store, me: str, now: datetime) -> Round:
    found = store.run(partial(leases.renew, me=me, mailboxes=BOXES, now=now, period=PERIOD))
    if found.release:
        store.run(partial(leases.release, me=me, mailboxes=found.release))
    return found


def rounds(store: Store, instances: list[str], start: datetime, count: int) -> dict[str, set[str]]:
    """``count`` renewal rounds a third of a period apart; what each holds after the last."""
    owned: dict[str, set[str]] = {}
    for n in range(count):
        for me in instances:
            found = renew(store, me, start + n * PERIOD / 3)
            owned[me] = set(found.owned - found.release)
        taken = [box for boxes in owned.values() for box in boxes]
        assert len(taken) == len(set(taken)), f"a mailbox with two owners: {owned}"
    return owned


def test_three_instances_share_twelve_mailboxes_four_each_within_three_rounds(
    store: Store,
) -> None:
    owned = rounds(store, ["a", "b", "c"], NOW, 3)
    assert sorted(len(boxes) for boxes in owned.values()) == [4, 4, 4]
    assert set().union(*owned.values()) == set(BOXES)


def test_a_dead_instances_mailboxes_go_to_the_survivors_once_its_leases_expire(
    store: Store,
) -> None:
    owned = rounds(store, ["a", "b", "c"], NOW, 3)
    dead = owned["c"]
    last_renewal = NOW + 2 * PERIOD / 3
    before_expiry = rounds(store, ["a", "b"], last_renewal + PERIOD / 3, 2)
    assert not dead & (before_expiry["a"] | before_expiry["b"])  # still c's, unexpired

    after = rounds(store, ["a", "b"], last_renewal + PERIOD, 2)
    assert sorted(len(boxes) for boxes in after.values()) == [6, 6]
    assert dead <= after["a"] | after["b"]


def test_an_instance_that_leaves_hands_its_mailboxes_over_at_the_next_round(
    store: Store,
) -> None:
    rounds(store, ["a", "b"], NOW, 3)
    store.run(partial(leases.leave, me="a"))
    found = renew(store, "b", NOW + PERIOD)
    assert found.owned == set(BOXES)
    assert found.live == 1


def test_concurrent_senders_claim_each_queued_message_exactly_once(store: Store) -> None:
    for n in range(30):
        store.run(
            partial(
                outbox.enqueue,
                mailbox=BOXES[n % 12],
                thread_id=None,
                order_id=None,
                message_id=f"<m{n}@shop.example>",
                raw=b"Subject: hi\r\n\r\nhello\r\n",
                sender="support@shop.example",
                recipients=("b@buyers.example",),
                subject="hi",
                now=NOW,
            )
        )
    due = store.run(partial(outbox.due, now=NOW))
    assert len(due) == 30
    senders = 8
    start = threading.Barrier(senders)
    wins: list[list[int]] = [[] for _ in range(senders)]

    def sender(index: int) -> None:
        # Its own engine: a separate PostgreSQL connection, as another maild process has.
        mine = Store.attach(store.url)
        try:
            mine.run(partial(outbox.due, now=NOW, limit=1))  # connected before the start
            start.wait()
            # Half go forward, half backward: they meet on every row.
            for row in due if index % 2 else reversed(due):
                if mine.run(partial(outbox.apply, row=row, entry=claim(row.entry, NOW))):
                    wins[index].append(row.id)
        finally:
            mine.close()

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    claimed = sorted(row_id for won in wins for row_id in won)
    assert claimed == sorted(row.id for row in due)
    assert sum(1 for won in wins if won) > 1, "no two senders raced; the test proved nothing"
