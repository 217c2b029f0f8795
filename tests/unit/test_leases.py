"""Who takes which mailbox: fair shares, expiry, newcomers and the dead (maild.leases)."""

from datetime import UTC, datetime, timedelta

import pytest

from maild.leases import Lease, fair_share, is_free, live_instances, plan

NOW = datetime(2026, 11, 24, 4, tzinfo=UTC)
LATER = NOW + timedelta(seconds=30)
EARLIER = NOW - timedelta(seconds=1)
BOXES = [f"shop-{n:02}" for n in range(12)]


def held(owners: dict[str, str], until: datetime = LATER) -> dict[str, Lease]:
    return {box: Lease(box, owner, until) for box, owner in owners.items()}


@pytest.mark.parametrize(
    ("mailboxes", "instances", "share"),
    [(12, 1, 12), (12, 3, 4), (12, 5, 3), (13, 3, 5), (2, 3, 1), (0, 2, 0), (5, 0, 5)],
)
def test_fair_share_is_the_ceiling_of_mailboxes_per_live_instance(
    mailboxes: int, instances: int, share: int
) -> None:
    assert fair_share(mailboxes, instances) == share


def test_a_lone_instance_takes_every_free_mailbox() -> None:
    moves = plan("a", BOXES, {}, live=[], now=NOW)
    assert moves.want == 12
    assert moves.candidates == tuple(BOXES)
    assert moves.keep == moves.release == ()


def test_three_instances_starting_together_each_want_a_third() -> None:
    for me in ("a", "b", "c"):
        moves = plan(me, BOXES, {}, live=["a", "b", "c"], now=NOW)
        assert moves.want == 4
        assert moves.release == ()


def test_an_instance_above_its_share_releases_the_surplus_when_a_newcomer_arrives() -> None:
    leases = held({box: "a" if i < 6 else "b" for i, box in enumerate(BOXES)})
    moves = plan("a", BOXES, leases, live=["a", "b", "c"], now=NOW)
    assert moves.keep == tuple(BOXES[:4])
    assert moves.release == tuple(BOXES[4:6])
    assert moves.want == 0


def test_the_newcomer_takes_what_the_others_released() -> None:
    leases = held({box: "a" if i < 4 else "b" for i, box in enumerate(BOXES[:8])})
    moves = plan("c", BOXES, leases, live=["a", "b", "c"], now=NOW)
    assert moves.candidates == tuple(BOXES[8:])
    assert moves.want == 4


def test_a_dead_instances_expired_leases_are_free_for_the_survivors() -> None:
    leases = {
        **held({box: "a" for box in BOXES[:4]}),
        **held({box: "b" for box in BOXES[4:8]}),
        **held({box: "dead" for box in BOXES[8:]}, until=EARLIER),
    }
    live = live_instances({"a": LATER, "b": LATER, "dead": EARLIER}, NOW)
    assert live == {"a", "b"}
    moves = plan("a", BOXES, leases, live, now=NOW)
    assert moves.keep == tuple(BOXES[:4])
    assert moves.candidates == tuple(BOXES[8:])
    assert moves.want == 2  # share 6: the other survivor takes the other two


def test_a_lease_is_held_until_the_instant_it_expires() -> None:
    lease = Lease("shop-00", "a", NOW)
    assert not is_free(lease, NOW - timedelta(microseconds=1))
    assert is_free(lease, NOW)
    assert is_free(Lease("shop-00", None, None), NOW)
    assert is_free(None, NOW)


def test_an_instance_whose_own_lease_expired_must_take_it_again_like_anyone() -> None:
    leases = held({"shop-00": "a"}, until=EARLIER)
    moves = plan("a", ["shop-00"], leases, live=["a"], now=NOW)
    assert moves.keep == ()
    assert moves.candidates == ("shop-00",)
    assert moves.want == 1


def test_mailboxes_held_by_live_others_are_never_candidates() -> None:
    leases = held({box: "b" for box in BOXES})
    moves = plan("a", BOXES, leases, live=["a", "b"], now=NOW)
    assert moves.candidates == ()
    assert moves.want == 0


def test_no_instance_keeps_more_than_its_share_whatever_the_leases_say() -> None:
    leases = held({box: "a" for box in BOXES})
    for live in (["a"], ["a", "b"], ["a", "b", "c"], ["a", "b", "c", "d", "e"]):
        moves = plan("a", BOXES, leases, live, now=NOW)
        assert len(moves.keep) == fair_share(12, len(live))
        assert len(moves.keep) + len(moves.release) == 12
