"""Reading landed messages for processing, and writing back what processing made of them.

Written with SQLAlchemy Core in batches: processing runs at thousands of
messages a second, and per-object ORM writes would cost a third of that.
"""

__all__ = ["MAX_STORED_TEXT", "pending", "raw_messages", "save_processed"]

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from maild.domain import (
    ConversationFacts,
    Direction,
    LandedMessage,
    ParsedMail,
    ProcessOutcome,
    Verdict,
)
from maild.errors import StoreError
from maild.store import conversations, thread_marks, thread_summaries
from maild.store.bulk import insert_many
from maild.store.key_sets import among
from maild.store.tables import core_table
from maild.store.types import RAW_CODEC, decode_raw

_MESSAGE = core_table("message")
_MAILBOX = core_table("mailbox")
_ATTACHMENT = core_table("attachment")
_MESSAGE_ORDER = core_table("message_order")
_LABEL = core_table("label")
_FEEDBACK = core_table("feedback")
_MESSAGE_THREAD = core_table("message_thread")

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
    mailboxes: Collection[str] | None = None,
) -> list[int]:
    query = (
        select(_MESSAGE.c.id)
        .where(_MESSAGE.c.state.in_(states), _MESSAGE.c.id > after_pk)
        .order_by(_MESSAGE.c.id)
        .limit(limit)
    )
    if mailboxes is not None:
        query = query.join(_MAILBOX, _MAILBOX.c.id == _MESSAGE.c.mailbox_id).where(
            _MAILBOX.c.name.in_(list(mailboxes))
        )
    return list(session.execute(query).scalars())


def raw_messages(session: Session, pks: Sequence[int]) -> list[LandedMessage]:
    query = (
        select(
            _MESSAGE.c.id,
            _MAILBOX.c.name,
            _MESSAGE.c.direction,
            _MESSAGE.c.raw_blob,
            _MESSAGE.c.raw_codec,
        )
        .join(_MAILBOX, _MAILBOX.c.id == _MESSAGE.c.mailbox_id)
        .where(_MESSAGE.c.id.in_(pks))
        .order_by(_MESSAGE.c.id)
    )
    return [
        _landed(pk, mailbox, "out" if direction == "out" else "in", blob, codec)
        for pk, mailbox, direction, blob, codec in session.execute(query)
    ]


def _landed(pk: int, mailbox: str, direction: Direction, blob: bytes, codec: str) -> LandedMessage:
    """One message read back; damaged bytes cost that message, never its whole batch."""
    try:
        raw = decode_raw(blob, codec)
    except StoreError as exc:
        # Marked as compressed so that processing never writes the empty bytes back over
        # what is stored: the damaged blob stays for whoever can repair it.
        return LandedMessage(pk, mailbox, direction, b"", compressed=True, unreadable=str(exc))
    return LandedMessage(pk, mailbox, direction, raw, compressed=codec != "none")


def _clean(value: Any) -> Any:
    """Make text storable anywhere: NUL (PostgreSQL refuses it) and lone surrogates go.

    Every value of every row processing writes passes here, and nearly all text is
    clean already: one walk gathers the text of ``value`` (its dicts' keys included),
    checked in one pass, and clean text is kept as it is; only a value holding dirt is
    rebuilt (8 -> 5.5 us a generated message, over what looked at each string in turn).
    """
    return value if _is_clean(value) else _scrub(value)


# What may hold text: :func:`_clean` leaves any other value as it is.
_TEXTUAL = (str, list, dict)


def _is_clean(value: Any) -> bool:
    """Whether no text in ``value`` holds anything :func:`_clean_text` replaces."""
    texts: list[str] = []
    todo = [value]
    for item in todo:  # grows as containers are opened
        kind = type(item)
        if kind is str:
            texts.append(item)
        elif kind is list:
            todo += item
        elif kind is dict:
            todo += item
            todo += item.values()
        elif isinstance(item, _TEXTUAL):
            return False  # a subclass: :func:`_scrub` knows what to do with it
    return not _dirty("".join(texts))


def _scrub(value: Any) -> Any:
    """``value`` rebuilt with its text cleaned."""
    if isinstance(value, str):
        return _clean_text(value) if _dirty(value) else value
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    if isinstance(value, dict):
        return {_scrub(key): _scrub(item) for key, item in value.items()}
    return value


def _dirty(text: str) -> bool:
    """Whether ``text`` holds a NUL or a surrogate, which :func:`_clean_text` replaces.

    UTF-32 refuses exactly the code points UTF-8 does, the surrogates, and encodes
    the rest faster whatever the widest character: in a tenth of the time for Latin-1
    text (1.2 -> 0.1 us a KB), two thirds for the rest of the Basic Multilingual
    Plane, 85% beyond it (emoji).
    """
    if "\x00" in text:
        return True
    if text.isascii():
        return False
    try:
        text.encode("utf-32-le")
    except UnicodeEncodeError:
        return True
    return False


def _clean_text(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


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


#: The message columns that hold the classifier's verdict (see :func:`_verdict_row`).
_VERDICT_COLUMNS = ("class_label", "class_scores", "model_version", "class_campaign")
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
    "order_ids": None,
    "sub_orders": None,
    "subject_key": None,
    "customer_address": None,
    "customer_name": None,
    **dict.fromkeys(_VERDICT_COLUMNS),
}


def _facts_row(facts: ConversationFacts) -> dict[str, Any]:
    return {
        "order_ids": list(facts.order_ids),
        "sub_orders": [list(pair) for pair in facts.sub_orders],
        "subject_key": facts.subject_key or None,
        "customer_address": _clip(facts.customer_address, 320),
        "customer_name": _clip(facts.customer_name),
    }


def _order_rows(pk: int, facts: ConversationFacts) -> list[dict[str, Any]]:
    subs = [{"message_pk": pk, "order_id": p or s, "sub_order_id": s} for s, p in facts.sub_orders]
    parents = {row["order_id"] for row in subs}
    orders = [
        {"message_pk": pk, "order_id": o, "sub_order_id": None}
        for o in facts.order_ids
        if o not in parents
    ]
    return orders + subs


def _verdict_row(verdict: Verdict | None) -> dict[str, Any]:
    if verdict is None:
        return dict.fromkeys(_VERDICT_COLUMNS)
    return {
        "class_label": verdict.label,
        "class_scores": dict(verdict.scores),
        "model_version": verdict.model_version[:64],
        "class_campaign": verdict.known_campaign,
    }


def _label_rows(outcome: ProcessOutcome, now: datetime) -> list[dict[str, Any]]:
    """Tags as "rule" labels, and the model's non-ham label as a "model" label.

    A model label hides a conversation in the Spam view, so it is only given where
    DOMAIN.md lets a seller flag: never to a message tied to an order.
    """
    rows: list[dict[str, Any]] = [
        {
            "message_pk": outcome.pk,
            "name": tag[:64],
            "source": "rule",
            "score": None,
            "created_at": now,
        }
        for tag in outcome.tags
    ]
    verdict = outcome.verdict
    if verdict is not None and verdict.label != "ham" and not outcome.facts.order_ids:
        score = verdict.scores.get(verdict.label)
        rows.append(
            {
                "message_pk": outcome.pk,
                "name": verdict.label,
                "source": "model",
                "score": score,
                "created_at": now,
            }
        )
    return rows


def _outcome_rows(
    outcome: ProcessOutcome, now: datetime
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """The message's new columns, its attachments and the orders it names."""
    if outcome.parsed is None:
        row = {
            **_EMPTY_FIELDS,
            "state": "quarantined",
            "quarantine_reason": (outcome.error or "unknown error")[:_MAX_HEADER],
            "processed_at": now,
        }
        attachments: list[dict[str, Any]] = []
        orders: list[dict[str, Any]] = []
    else:
        row = {
            **_parsed_row(outcome.parsed, now),
            **_facts_row(outcome.facts),
            **_verdict_row(outcome.verdict),
            "machine_kind": outcome.machine_kind,
        }
        attachments = [
            {
                "message_pk": outcome.pk,
                "filename": _clean(_clip(a.filename)),
                "content_type": a.content_type[:255],
                "size": a.size,
                "digest": a.sha256,
            }
            for a in outcome.parsed.attachments
        ]
        orders = _order_rows(outcome.pk, outcome.facts)
    if outcome.compressed is not None:
        row["raw_blob"], row["raw_codec"] = outcome.compressed, RAW_CODEC
    return {"_pk": outcome.pk, **_clean(row)}, attachments, _clean(orders)


def save_processed(
    session: Session, outcomes: Sequence[ProcessOutcome], now: datetime, *, hold: bool = False
) -> dict[int, dict[str, Any]]:
    """Write outcomes in the caller's transaction; reprocessing replaces what an earlier run
    wrote.

    With ``hold``, the rows of messages processed for the first time are not written but
    returned, by key, for threading to write in the same transaction with their thread
    (maild.store.conversations): SQLite rewrites a whole row, its text and bytes included,
    to set one column, and one write instead of two saves some 14 us a message.
    """
    rows: list[dict[str, Any]] = []
    attachments: list[dict[str, Any]] = []
    orders: list[dict[str, Any]] = []
    labels: list[dict[str, Any]] = []
    for outcome in outcomes:
        row, more_attachments, more_orders = _outcome_rows(outcome, now)
        rows.append(row)
        attachments += more_attachments
        orders += more_orders
        labels += _label_rows(outcome, now)
    if not rows:
        return {}
    again, threaded = _processed_before(session, [r["_pk"] for r in rows])
    stamps: dict[int, int] = {}
    if again:
        # A person's flag or unflag (maild.store.flags) outranks the model's label, and a
        # flag already holds the label's name.
        judged = set(
            session.execute(
                select(_FEEDBACK.c.message_pk).where(_FEEDBACK.c.message_pk.in_(again)).distinct()
            ).scalars()
        )
        labels = [r for r in labels if r["source"] != "model" or r["message_pk"] not in judged]
        # Reprocessing may change the labels of threaded messages, so their conversations'
        # Spam flag and stamp too: their mailboxes' locks first, as threading takes them.
        stamps = {mailbox: thread_marks.lock(session, mailbox) for mailbox in sorted(threaded)}
        session.execute(_ATTACHMENT.delete().where(_ATTACHMENT.c.message_pk.in_(again)))
        session.execute(_MESSAGE_ORDER.delete().where(_MESSAGE_ORDER.c.message_pk.in_(again)))
        # Labels processing gave are replaced; a person's flags and feedback stay.
        session.execute(
            _LABEL.delete().where(
                _LABEL.c.message_pk.in_(again), _LABEL.c.source.in_(("rule", "model"))
            )
        )
    held: dict[int, dict[str, Any]] = {}
    if hold:
        before = set(again)
        held = {r["_pk"]: r for r in rows if r["state"] == "processed" and r["_pk"] not in before}
    conversations.update_messages(session, [r for r in rows if r["_pk"] not in held])
    if attachments:
        insert_many(session, _ATTACHMENT, attachments)
    if orders:
        insert_many(session, _MESSAGE_ORDER, orders)
    if labels:
        insert_many(session, _LABEL, labels)
    for mailbox, threads in threaded.items():
        # New tags may move a conversation's lifecycle (a hand-off recognised only now).
        thread_summaries.summarize_threads(session, mailbox, threads, now)
        thread_marks.mark(session, threads, stamps[mailbox])
    return held


def _processed_before(
    session: Session, pks: Sequence[int]
) -> tuple[list[int], dict[int, set[int]]]:
    """Those of ``pks`` processed before, and their conversations by mailbox id.

    Only processing writes a message's attachments, orders and rule or model labels,
    and only a processed message is threaded, flagged or unflagged: a message seen
    the first time has nothing to replace, which saves most batches five statements.
    """
    m = _MESSAGE.c
    again: set[int] = set()
    threaded: dict[int, set[int]] = {}
    for pk, mailbox_id, thread in session.execute(
        select(m.id, m.mailbox_id, _MESSAGE_THREAD.c.thread_id)
        .outerjoin(_MESSAGE_THREAD, _MESSAGE_THREAD.c.message_pk == m.id)
        .where(among(m.id, pks), m.processed_at.is_not(None))
    ):
        again.add(pk)
        if thread is not None:
            threaded.setdefault(mailbox_id, set()).add(thread)
    return sorted(again), threaded
