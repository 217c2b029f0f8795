"""Who should own which mailbox when several maild instances share one database.

Pure: the lease rows and the live instances are read by :mod:`maild.store.leases`,
which then applies the plan made here. A mailbox (all its folders: they share one
login, one token and one set of SLA gauges) is owned by one instance at a time; an
instance that stops renewing its leases loses them when they expire. Work is spread
by a fair share: with N live instances, none keeps more than ceil(mailboxes / N),
so a newcomer finds mailboxes released for it within one renewal round, and the
survivors of a dead instance take its mailboxes once its leases run out.
"""

__all__ = ["Lease", "Plan", "fair_share", "is_free", "live_instances", "plan"]

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Lease:
    """A mailbox's lease row: no owner (never taken, or released) or an owner until a time."""

    mailbox: str
    owner: str | None
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class Plan:
    """What one instance does this round.

    ``keep``: its live leases, renewed; ``release``: leases above its share, given up
    once their folders have stopped; ``candidates``: free mailboxes in the order all
    instances try them, of which it takes up to ``want`` (the store skips those another
    instance is taking at the same moment).
    """

    keep: tuple[str, ...]
    release: tuple[str, ...]
    candidates: tuple[str, ...]
    want: int


def is_free(lease: Lease | None, now: datetime) -> bool:
    """No lease yet, released, or expired: anyone may take it."""
    if lease is None or lease.owner is None or lease.expires_at is None:
        return True
    return lease.expires_at <= now


def _held_by(lease: Lease | None, me: str, now: datetime) -> bool:
    return lease is not None and lease.owner == me and not is_free(lease, now)


def live_instances(heartbeats: Mapping[str, datetime], now: datetime) -> frozenset[str]:
    """Instances whose heartbeat (renewed with their leases) has not expired."""
    return frozenset(name for name, expires_at in heartbeats.items() if expires_at > now)


def fair_share(mailboxes: int, instances: int) -> int:
    """The most mailboxes one of ``instances`` live instances should own."""
    return math.ceil(mailboxes / max(instances, 1))


def plan(
    me: str,
    mailboxes: Collection[str],
    leases: Mapping[str, Lease],
    live: Collection[str],
    now: datetime,
) -> Plan:
    """This round's moves for instance ``me`` over the ``mailboxes`` it is configured for.

    An instance above its share releases the surplus (the last in name order) and takes
    nothing; one below takes free mailboxes up to its share. Everyone walks the free
    ones in the same (name) order, so instances starting together take different ones.
    """
    share = fair_share(len(mailboxes), len({*live, me}))
    held = sorted(m for m in mailboxes if _held_by(leases.get(m), me, now))
    if len(held) > share:
        return Plan(tuple(held[:share]), tuple(held[share:]), (), 0)
    free = tuple(sorted(m for m in mailboxes if is_free(leases.get(m), now)))
    return Plan(tuple(held), (), free, min(share - len(held), len(free)))
