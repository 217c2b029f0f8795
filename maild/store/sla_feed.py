"""What the SLA ticker reads: waiting conversations, what changed, first responses, flags.

A ticker loads every waiting conversation once (:func:`load_waiting`), then on each
tick only the conversations stamped after the counts it saw (:func:`changes_since`;
see maild.store.thread_marks for why a count covers every earlier change). Stored
first responses, flag feedback and policy refusals are counted once by a running daemon: a row is
claimed (``counted`` set) in the transaction that reads it, and only rows this
claim changed are returned, so two claims never return the same row.
"""

__all__ = [
    "Change",
    "Counted",
    "Cursors",
    "FirstResponseRow",
    "Judge",
    "answered_since",
    "changes_since",
    "count_escalations",
    "count_feedback",
    "count_first_responses",
    "count_refusals",
    "escalation_shares",
    "load_waiting",
]

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, bindparam, case, false, func, select
from sqlalchemy.orm import Session

from maild.sla.score import Judgement
from maild.store.tables import core_table

_MAILBOX = core_table("mailbox")
_THREAD = core_table("thread")
_MESSAGE = core_table("message")
_MESSAGE_THREAD = core_table("message_thread")
_LABEL = core_table("label")
_REMOVED = core_table("thread_removed")
_FIRST = core_table("first_response")
_REFUSAL = core_table("policy_refusal")
_FEEDBACK = core_table("feedback")
_CHUNK = 500

# The last change count seen, per mailbox id.
Cursors = dict[int, int]


@dataclass(frozen=True, slots=True)
class Change:
    """A conversation as it is now; ``since`` None: nothing waits (answered, spam or gone)."""

    thread_id: int
    mailbox: str
    since: datetime | None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FirstResponseRow:
    id: int
    mailbox: str
    asked_at: datetime
    replied_at: datetime
    # The conversation's tags now, which pick the kind of deadline.
    tags: tuple[str, ...]
    in_time: bool | None = None


@dataclass(frozen=True, slots=True)
class Counted:
    row: FirstResponseRow
    judgement: Judgement


Judge = Callable[[FirstResponseRow], Judgement]


def _chunks(values: Sequence[int]) -> Iterable[list[int]]:
    for start in range(0, len(values), _CHUNK):
        yield list(values[start : start + _CHUNK])


def _counts(session: Session) -> Cursors:
    return {i: n for i, n in session.execute(select(_MAILBOX.c.id, _MAILBOX.c.change_seq))}


def _names(session: Session) -> dict[int, str]:
    return {i: name for i, name in session.execute(select(_MAILBOX.c.id, _MAILBOX.c.name))}


def _tags_where(session: Session, *where: ColumnElement[bool]) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    for thread, name in session.execute(
        select(_MESSAGE_THREAD.c.thread_id, _LABEL.c.name)
        .join(_LABEL, _LABEL.c.message_pk == _MESSAGE_THREAD.c.message_pk)
        .where(_LABEL.c.source == "rule", *where)
    ):
        found.setdefault(thread, set()).add(name)
    return found


def _tags(session: Session, threads: Sequence[int] | None) -> dict[int, tuple[str, ...]]:
    """Each conversation's rule labels (urgent, customer-care...), sorted, once each.

    ``None``: of every waiting conversation, in one query (a full load).
    """
    found: dict[int, set[str]] = {}
    if threads is None:
        t = _THREAD.c
        found = _tags_where(
            session,
            t.id == _MESSAGE_THREAD.c.thread_id,
            t.awaiting_since.is_not(None),
            t.hidden == false(),
        )
    else:
        for chunk in _chunks(sorted(set(threads))):
            found.update(_tags_where(session, _MESSAGE_THREAD.c.thread_id.in_(chunk)))
    return {thread: tuple(sorted(names)) for thread, names in found.items()}


_Row = tuple[int, int, datetime | None, bool]  # thread, mailbox id, awaiting since, hidden


def _changes(session: Session, rows: Sequence[_Row], *, everything: bool = False) -> list[Change]:
    """What ``rows`` show; ``everything``: they are all the waiting conversations."""
    names = _names(session)
    waits = [thread for thread, _, since, hidden in rows if since is not None and not hidden]
    tags = _tags(session, None if everything else waits)
    return [
        Change(
            thread,
            names[mailbox],
            since if not hidden else None,
            tags.get(thread, ()) if since is not None and not hidden else (),
        )
        for thread, mailbox, since, hidden in rows
    ]


def load_waiting(session: Session) -> tuple[Cursors, list[Change]]:
    """Every conversation waiting for a reply now, and the change counts this covers."""
    t = _THREAD.c
    cursors = _counts(session)
    rows = session.execute(
        select(t.id, t.mailbox_id, t.awaiting_since, t.hidden).where(
            t.awaiting_since.is_not(None), t.hidden == false()
        )
    ).all()
    return cursors, _changes(session, list(rows), everything=True)


def changes_since(session: Session, seen: Cursors) -> tuple[Cursors, list[Change]]:
    """Conversations changed or removed after the counts in ``seen``, and the new counts.

    The counts are read first: a change committed later is stamped above them and is
    read on the next call (possibly also on this one, which is harmless: it reads
    the conversation as it is).
    """
    t = _THREAD.c
    cursors = _counts(session)
    rows: list[_Row] = []
    gone: list[tuple[int, int]] = []
    for mailbox, count in cursors.items():
        last = seen.get(mailbox, 0)
        if count <= last:
            continue
        rows += session.execute(
            select(t.id, t.mailbox_id, t.awaiting_since, t.hidden).where(
                t.mailbox_id == mailbox, t.change_seq > last
            )
        ).all()
        gone += session.execute(
            select(_REMOVED.c.thread_id, _REMOVED.c.mailbox_id).where(
                _REMOVED.c.mailbox_id == mailbox, _REMOVED.c.change_seq > last
            )
        ).all()
    changed = _changes(session, rows)
    names = _names(session)
    changed += [Change(thread, names[mailbox], None) for thread, mailbox in gone]
    return cursors, changed


def _first_responses(
    session: Session, *where: ColumnElement[bool], mailboxes: Collection[str]
) -> list[FirstResponseRow]:
    f = _FIRST.c
    names = _names(session)
    wanted = [i for i, name in names.items() if name in mailboxes]
    rows = session.execute(
        select(f.id, f.mailbox_id, f.thread_id, f.asked_at, f.replied_at, f.in_time)
        .where(f.mailbox_id.in_(wanted), *where)
        .order_by(f.id)
    ).all()
    tags = _tags(session, [r.thread_id for r in rows])
    return [
        FirstResponseRow(
            r.id,
            names[r.mailbox_id],
            r.asked_at,
            r.replied_at,
            tags.get(r.thread_id, ()),
            r.in_time,
        )
        for r in rows
    ]


def count_first_responses(
    session: Session, mailboxes: Collection[str], judge: Judge
) -> list[Counted]:
    """Claim the first responses of ``mailboxes`` no daemon counted yet, judged; commits."""
    f = _FIRST.c
    found = {
        row.id: row for row in _first_responses(session, f.counted == false(), mailboxes=mailboxes)
    }
    claimed: set[int] = set()
    for chunk in _chunks(sorted(found)):
        claimed.update(
            session.execute(
                _FIRST.update()
                .where(f.id.in_(chunk), f.counted == false())
                .values(counted=True)
                .returning(f.id)
            ).scalars()
        )
    counted = [Counted(found[i], judge(found[i])) for i in sorted(claimed)]
    if counted:
        session.execute(
            _FIRST.update().where(f.id == bindparam("_id")),
            [
                {
                    "_id": c.row.id,
                    "kind": c.judgement.kind,
                    "business_seconds": c.judgement.business_seconds,
                    "in_time": c.judgement.in_time,
                }
                for c in counted
            ],
        )
    session.commit()
    return counted


def answered_since(
    session: Session, cutoff: datetime, mailboxes: Collection[str]
) -> list[FirstResponseRow]:
    """First responses of ``mailboxes`` replied at or after ``cutoff``, judged or not."""
    return _first_responses(session, _FIRST.c.replied_at >= cutoff, mailboxes=mailboxes)


def _claim(
    session: Session,
    table: Table,
    *columns: ColumnElement[Any],
    flag: str = "counted",
    where: tuple[ColumnElement[bool], ...] = (),
) -> list[tuple[Any, ...]]:
    """Set ``flag`` on ``table``'s rows (``where``) no daemon counted yet; ``columns`` of
    the rows this claim changed. Read first, so a tick with nothing to count writes nothing.
    """
    c = table.c
    unclaimed = c[flag] == false()
    fresh = list(session.execute(select(c.id).where(unclaimed, *where)).scalars())
    claimed: list[tuple[Any, ...]] = []
    for chunk in _chunks(fresh):
        claimed += map(
            tuple,
            session.execute(
                table.update()
                .where(c.id.in_(chunk), unclaimed)
                .values({flag: True})
                .returning(*columns)
            ),
        )
    return claimed


def count_feedback(session: Session) -> list[tuple[str, str, str]]:
    """Claim the flags and unflags no daemon counted yet: (mailbox, action, reason); commits."""
    fb = _FEEDBACK.c
    claimed = _claim(session, _FEEDBACK, fb.message_pk, fb.action, fb.reason)
    owners: dict[int, int] = {}
    for chunk in _chunks(sorted({pk for pk, _, _ in claimed})):
        owners.update(
            session.execute(
                select(_MESSAGE.c.id, _MESSAGE.c.mailbox_id).where(_MESSAGE.c.id.in_(chunk))
            ).all()
        )
    names = _names(session)
    session.commit()
    return [(names[owners[pk]], action, reason) for pk, action, reason in claimed]


def count_refusals(session: Session) -> list[tuple[str, str]]:
    """Claim the policy refusals no daemon counted yet: (mailbox, rule); commits."""
    r = _REFUSAL.c
    claimed = _claim(session, _REFUSAL, r.mailbox_id, r.rule)
    names = _names(session)
    session.commit()
    return [(names[mailbox_id], rule) for mailbox_id, rule in claimed]


def count_escalations(session: Session) -> list[str]:
    """Claim the hand-offs no daemon counted yet: one mailbox name each; commits."""
    t = _THREAD.c
    where = (t.escalated_at.is_not(None),)
    claimed = _claim(session, _THREAD, t.mailbox_id, flag="escalation_counted", where=where)
    names = _names(session)
    session.commit()
    return [names[mailbox_id] for (mailbox_id,) in claimed]


def escalation_shares(session: Session, cutoff: datetime) -> dict[str, float]:
    """Per mailbox, the share of conversations with a message since ``cutoff`` that were
    handed off since then; a mailbox with no such conversation has none."""
    t = _THREAD.c
    escalated = func.sum(case((t.escalated_at >= cutoff, 1), else_=0))
    rows = session.execute(
        select(t.mailbox_id, func.count(), escalated)
        .where(t.last_message_at >= cutoff)
        .group_by(t.mailbox_id)
    ).all()
    names = _names(session)
    return {names[mailbox]: (handed or 0) / active for mailbox, active, handed in rows if active}
