"""Mailbox leases in the database: renew, take and release them for one instance.

A round is one transaction: the instance's own leases are renewed, then free ones
are taken with ``SELECT ... FOR UPDATE SKIP LOCKED``, so instances taking at the
same moment skip each other's rows instead of waiting or taking the same one; a
row another instance took and committed meanwhile is re-checked by PostgreSQL and
no longer matches. Which and how many to take is decided by :func:`maild.leases.plan`.
PostgreSQL only: a SQLite database has one instance, which owns every mailbox.
"""

from __future__ import annotations

__all__ = ["Round", "leave", "release", "renew"]

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from maild.leases import Lease, is_free, live_instances, plan
from maild.store.tables import core_table

_LEASE = core_table("mailbox_lease")
_INSTANCE = core_table("maild_instance")
_MAILBOX = core_table("mailbox")
# A dead instance's heartbeat is kept this long (it counts as dead once expired).
_FORGET = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Round:
    """After a round: the mailboxes this instance holds (``release`` among them, to be
    given up once stopped) and how many instances are live, itself included."""

    owned: frozenset[str]
    release: frozenset[str]
    live: int


def renew(
    session: Session, me: str, mailboxes: Collection[str], now: datetime, period: timedelta
) -> Round:
    """Beat the heart, renew what ``me`` holds and take its share of the free mailboxes.

    The heartbeat is committed on its own first, so instances starting together see
    each other before they take anything.
    """
    until = now + period
    _heartbeat(session, me, now, until)
    beats = session.execute(select(_INSTANCE.c.name, _INSTANCE.c.expires_at))
    live = live_instances({name: expires for name, expires in beats}, now)
    ids = _mailbox_ids(session, mailboxes)
    leases = _leases(session, ids)
    missing = sorted(ids[name] for name in ids.keys() - leases.keys())
    if missing:
        session.execute(
            insert(_LEASE)
            .values([{"mailbox_id": key} for key in missing])
            .on_conflict_do_nothing(index_elements=["mailbox_id"])
        )
    moves = plan(me, ids.keys(), leases, live, now)
    held = sorted(ids[name] for name in (*moves.keep, *moves.release))
    if held:
        session.execute(
            update(_LEASE)
            .where(_LEASE.c.mailbox_id.in_(held), _LEASE.c.owner == me)
            .values(expires_at=until)
        )
    if moves.want:
        _take(session, me, [ids[name] for name in moves.candidates], moves.want, now, until)
    now_leases = _leases(session, ids).items()
    owned = frozenset(n for n, lease in now_leases if lease.owner == me and not is_free(lease, now))
    session.commit()
    return Round(owned, frozenset(moves.release) & owned, len({*live, me}))


def _heartbeat(session: Session, me: str, now: datetime, until: datetime) -> None:
    session.execute(
        insert(_INSTANCE)
        .values(name=me, started_at=now, expires_at=until)
        .on_conflict_do_update(index_elements=["name"], set_={"expires_at": until})
    )
    session.commit()
    # Long dead only: deleting a row its instance is renewing now could deadlock.
    session.execute(delete(_INSTANCE).where(_INSTANCE.c.expires_at <= now - _FORGET))
    session.commit()


def _mailbox_ids(session: Session, mailboxes: Collection[str]) -> dict[str, int]:
    """Ids of the configured mailboxes that have a row (``maild run`` makes them)."""
    if not mailboxes:
        return {}
    found = session.execute(
        select(_MAILBOX.c.name, _MAILBOX.c.id).where(_MAILBOX.c.name.in_(list(mailboxes)))
    )
    return {name: key for name, key in found}


def _leases(session: Session, ids: dict[str, int]) -> dict[str, Lease]:
    names = {key: name for name, key in ids.items()}
    rows = session.execute(
        select(_LEASE.c.mailbox_id, _LEASE.c.owner, _LEASE.c.expires_at).where(
            _LEASE.c.mailbox_id.in_(list(names))
        )
    )
    return {names[key]: Lease(names[key], owner, expires) for key, owner, expires in rows}


def _take(
    session: Session, me: str, candidates: list[int], want: int, now: datetime, until: datetime
) -> None:
    c = _LEASE.c
    free = or_(c.owner.is_(None), c.expires_at.is_(None), c.expires_at <= now)
    taken = list(
        session.execute(
            select(c.mailbox_id)
            .where(c.mailbox_id.in_(candidates), free)
            .order_by(c.mailbox_id)
            .limit(want)
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    if taken:
        session.execute(
            update(_LEASE)
            .where(c.mailbox_id.in_(taken))
            .values(owner=me, expires_at=until, acquired_at=now)
        )


def release(session: Session, me: str, mailboxes: Collection[str]) -> None:
    """Give up ``mailboxes`` (their folders have stopped), so another instance may take them."""
    if not mailboxes:
        return
    ids = list(_mailbox_ids(session, mailboxes).values())
    session.execute(
        update(_LEASE)
        .where(_LEASE.c.mailbox_id.in_(ids), _LEASE.c.owner == me)
        .values(owner=None, expires_at=None)
    )
    session.commit()


def leave(session: Session, me: str) -> None:
    """On a clean stop: release everything and drop the heartbeat, so others take over now."""
    session.execute(update(_LEASE).where(_LEASE.c.owner == me).values(owner=None, expires_at=None))
    session.execute(delete(_INSTANCE).where(_INSTANCE.c.name == me))
    session.commit()
