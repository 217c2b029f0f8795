"""What the submission gateway asks the store before queueing a message from a mail client.

Which conversation a client's reply answers (the one holding the message its
In-Reply-To or References name), and whether the client has submitted this very
Message-ID already: a client whose connection dropped after the final dot but before
the 250 sends again, and that second copy must not become a second message.
"""

from __future__ import annotations

__all__ = ["queued_already", "thread_answered"]

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from maild.store.tables import core_table

_OUTBOX = core_table("outbox")
_MAILBOX = core_table("mailbox")
_MESSAGE = core_table("message")
_MESSAGE_THREAD = core_table("message_thread")


def thread_answered(session: Session, mailbox: str, message_ids: Sequence[str]) -> int | None:
    """The conversation of the latest of ``message_ids`` (In-Reply-To first) stored here."""
    for message_id in message_ids:
        found = session.execute(
            select(_MESSAGE_THREAD.c.thread_id)
            .join(_MESSAGE, _MESSAGE.c.id == _MESSAGE_THREAD.c.message_pk)
            .join(_MAILBOX, _MAILBOX.c.id == _MESSAGE.c.mailbox_id)
            .where(_MAILBOX.c.name == mailbox, _MESSAGE.c.message_id == message_id)
            .order_by(_MESSAGE_THREAD.c.thread_id)
            .limit(1)
        ).scalar()
        if found is not None:
            return int(found)
    return None


def queued_already(session: Session, mailbox: str, message_id: str) -> int | None:
    """The outbox id of ``message_id`` in ``mailbox``, if it was queued before."""
    found = session.execute(
        select(_OUTBOX.c.id)
        .join(_MAILBOX, _MAILBOX.c.id == _OUTBOX.c.mailbox_id)
        .where(_MAILBOX.c.name == mailbox, _OUTBOX.c.message_id == message_id)
    ).scalar()
    return None if found is None else int(found)
