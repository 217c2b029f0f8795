"""Reading landed messages for processing, and writing back what processing made of them.

Written with SQLAlchemy Core in batches: processing runs at thousands of
messages a second, and per-object ORM writes would cost a third of that.
"""

__all__ = ["MAX_STORED_TEXT", "pending", "raw_messages", "save_processed"]

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from maild.domain import ParsedMail, ProcessOutcome
from maild.store.tables import core_table
from maild.store.types import decode_raw

_MESSAGE = core_table("message")
_MAILBOX = core_table("mailbox")
_ATTACHMENT = core_table("attachment")

# The raw message keeps everything; the text column serves search and the classifier,
# which gain nothing from megabytes of pasted logs.
MAX_STORED_TEXT = 262_144
_MAX_HEADER = 998


def pending(
    session: Session,
    *,
    states: Sequence[str],
    after_pk: int,
    limit: int,
    mailbox: str | None = None,
) -> list[int]:
    query = (
        select(_MESSAGE.c.id)
        .where(_MESSAGE.c.state.in_(states), _MESSAGE.c.id > after_pk)
        .order_by(_MESSAGE.c.id)
        .limit(limit)
    )
    if mailbox is not None:
        query = query.join(_MAILBOX, _MAILBOX.c.id == _MESSAGE.c.mailbox_id).where(
            _MAILBOX.c.name == mailbox
        )
    return list(session.execute(query).scalars())


def raw_messages(session: Session, pks: Sequence[int]) -> list[tuple[int, bytes]]:
    query = (
        select(_MESSAGE.c.id, _MESSAGE.c.raw_blob, _MESSAGE.c.raw_codec)
        .where(_MESSAGE.c.id.in_(pks))
        .order_by(_MESSAGE.c.id)
    )
    return [(pk, decode_raw(blob, codec)) for pk, blob, codec in session.execute(query)]


def _clean(value: Any) -> Any:
    """Make text storable anywhere: NUL (PostgreSQL refuses it) and lone surrogates go."""
    if isinstance(value, str):
        if not value.isascii():
            value = value.encode("utf-8", "replace").decode("utf-8")
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, dict):
        return {_clean(key): _clean(item) for key, item in value.items()}
    return value


def _clip(value: str | None, limit: int = _MAX_HEADER) -> str | None:
    return None if value is None else value[:limit]


def _parsed_row(parsed: ParsedMail, now: datetime) -> dict[str, Any]:
    return {
        "state": "processed",
        "quarantine_reason": None,
        "processed_at": now,
        "degraded": parsed.degraded,
        "subject": _clip(parsed.subject),
        "from_addr": _clip(parsed.from_addr, 320),
        "from_name": _clip(parsed.from_name),
        "to_addrs": [addr for _, addr in parsed.to],
        "cc_addrs": [addr for _, addr in parsed.cc],
        "reply_to": _clip(parsed.reply_to, 320),
        "sent_at": parsed.date,
        "in_reply_to": _clip(parsed.in_reply_to),
        "reference_ids": list(parsed.references),
        "headers": {
            **dict(parsed.headers),
            "degraded_reasons": list(parsed.degraded_reasons),
            "charsets": list(parsed.charsets),
            "to_names": [name for name, _ in parsed.to],
        },
        "body_text": parsed.text[:MAX_STORED_TEXT],
    }


_EMPTY_FIELDS: dict[str, Any] = {
    "degraded": False,
    "subject": None,
    "from_addr": None,
    "from_name": None,
    "to_addrs": None,
    "cc_addrs": None,
    "reply_to": None,
    "sent_at": None,
    "in_reply_to": None,
    "reference_ids": None,
    "headers": None,
    "body_text": None,
    "machine_kind": None,
}


def save_processed(session: Session, outcomes: Sequence[ProcessOutcome], now: datetime) -> None:
    """Write outcomes in one transaction; reprocessing replaces what an earlier run wrote."""
    rows: list[dict[str, Any]] = []
    attachments: list[dict[str, Any]] = []
    for outcome in outcomes:
        if outcome.parsed is None:
            row = {
                **_EMPTY_FIELDS,
                "state": "quarantined",
                "quarantine_reason": (outcome.error or "unknown error")[:_MAX_HEADER],
                "processed_at": now,
            }
        else:
            row = {**_parsed_row(outcome.parsed, now), "machine_kind": outcome.machine_kind}
            attachments += [
                {
                    "message_pk": outcome.pk,
                    "filename": _clean(_clip(a.filename)),
                    "content_type": a.content_type[:255],
                    "size": a.size,
                    "digest": a.sha256,
                }
                for a in outcome.parsed.attachments
            ]
        if outcome.compressed is not None:
            row["raw_blob"], row["raw_codec"] = outcome.compressed, "zlib"
        rows.append({"_pk": outcome.pk, **_clean(row)})
    if not rows:
        return
    session.execute(
        _ATTACHMENT.delete().where(_ATTACHMENT.c.message_pk.in_([r["_pk"] for r in rows]))
    )
    update = _MESSAGE.update().where(_MESSAGE.c.id == bindparam("_pk"))
    # executemany needs one set of keys: outcomes with and without new bytes go apart.
    for same_keys in (
        [r for r in rows if "raw_blob" in r],
        [r for r in rows if "raw_blob" not in r],
    ):
        if same_keys:
            session.execute(update, same_keys)
    if attachments:
        session.execute(_ATTACHMENT.insert(), attachments)
    session.commit()
