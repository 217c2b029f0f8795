"""Which messages processing quarantined, and where each is on the server.

A count says that something is wrong; to look at a message, fix what broke it or
report it, an operator needs its mailbox, folder and UID, its Message-ID and the
reason. A message seen in several folders is listed once per place.
"""

from __future__ import annotations

__all__ = ["QuarantinedMessage", "quarantined_messages"]

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from maild.store.tables import core_table

_MESSAGE = core_table("message")
_MAILBOX = core_table("mailbox")
_FOLDER = core_table("folder")
_LOCATION = core_table("message_location")


@dataclass(frozen=True, slots=True)
class QuarantinedMessage:
    pk: int
    mailbox: str
    # Where it was fetched from; None for a message maild stored without fetching it.
    folder: str | None
    uidvalidity: int | None
    uid: int | None
    message_id: str
    reason: str
    landed_at: datetime


def quarantined_messages(
    session: Session, pks: Sequence[int] | None = None
) -> list[QuarantinedMessage]:
    """The quarantined messages among ``pks`` (all when None), newest first."""
    m, loc = _MESSAGE.c, _LOCATION.c
    query = (
        select(
            m.id,
            _MAILBOX.c.name,
            _FOLDER.c.name,
            loc.uidvalidity,
            loc.uid,
            m.message_id,
            m.quarantine_reason,
            m.landed_at,
        )
        .join(_MAILBOX, _MAILBOX.c.id == m.mailbox_id)
        .outerjoin(_LOCATION, loc.message_pk == m.id)
        .outerjoin(_FOLDER, _FOLDER.c.id == loc.folder_id)
        .where(m.state == "quarantined")
        .order_by(m.id.desc(), loc.id)
    )
    if pks is not None:
        query = query.where(m.id.in_(pks))
    return [
        QuarantinedMessage(pk, mailbox, folder, uidvalidity, uid, message_id, reason or "", at)
        for pk, mailbox, folder, uidvalidity, uid, message_id, reason, at in session.execute(query)
    ]
