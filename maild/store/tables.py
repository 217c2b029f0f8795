"""The database tables, as SQLModel classes.

Unique constraints carry the "nothing twice" invariant: a folder location
(folder, UIDVALIDITY, UID) exists once, and a message (mailbox, Message-ID,
digest) exists once however many folders or resyncs show it. Every change here
needs a migration in ``migrations/versions``; a test compares the two.
"""

__all__ = [
    "Attachment",
    "Feedback",
    "FirstResponse",
    "Folder",
    "Instance",
    "Label",
    "Mailbox",
    "MailboxLease",
    "Message",
    "MessageLocation",
    "MessageOrder",
    "MessageThread",
    "OutboxItem",
    "Thread",
    "ThreadOrder",
    "ThreadRemoved",
    "core_table",
]

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, LargeBinary, Table, UniqueConstraint
from sqlmodel import Field, SQLModel

from maild.store.types import RAW_CODEC, UTCDateTime


def _backfilled(server_default: str, **field: Any) -> Any:
    """A column that a migration added to a table holding rows, which the database
    filled with ``server_default``: declared here as well, so that a database built from
    these tables is the same as a migrated one (tests/integration/test_store.py)."""
    return Field(sa_column_kwargs={"server_default": server_default}, **field)


class Mailbox(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=63)
    address: str = Field(default="", max_length=320)
    created_at: datetime = Field(sa_type=UTCDateTime)
    # Counts the changes to its conversations (maild.store.thread_marks): the SLA ticker
    # reads only conversations stamped after the last count it saw.
    change_seq: int = _backfilled("0", default=0)


class Folder(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("mailbox_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    mailbox_id: int = Field(foreign_key="mailbox.id")
    name: str = Field(max_length=512)
    uidvalidity: int | None = Field(default=None, sa_type=BigInteger)
    last_uid: int = Field(default=0, sa_type=BigInteger)
    last_sync: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None)
    uidvalidity_changes: int = Field(default=0)


class Message(SQLModel, table=True):
    """A message exactly as received or sent; parsed fields are filled by processing."""

    __table_args__ = (
        UniqueConstraint("mailbox_id", "message_id", "digest"),
        Index("ix_message_state", "state"),
        Index("ix_message_thread", "thread_id", "state", "mailbox_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    mailbox_id: int = Field(foreign_key="mailbox.id")
    message_id: str = Field(max_length=998)
    digest: str = Field(max_length=64)
    direction: str = Field(default="in", max_length=3)
    raw_blob: bytes = Field(sa_type=LargeBinary)
    # Rows stored before codecs were recorded are zlib.
    raw_codec: str = _backfilled("zlib", default=RAW_CODEC, max_length=8)
    raw_size: int
    internaldate: datetime | None = Field(default=None, sa_type=UTCDateTime)
    landed_at: datetime = Field(sa_type=UTCDateTime)
    state: str = Field(default="landed", max_length=16)
    quarantine_reason: str | None = Field(default=None)
    processed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    degraded: bool = Field(default=False)
    subject: str | None = Field(default=None)
    from_addr: str | None = Field(default=None, max_length=320)
    from_name: str | None = Field(default=None)
    to_addrs: list[str] | None = Field(default=None, sa_type=JSON)
    cc_addrs: list[str] | None = Field(default=None, sa_type=JSON)
    reply_to: str | None = Field(default=None, max_length=320)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    in_reply_to: str | None = Field(default=None, max_length=998)
    reference_ids: list[str] | None = Field(default=None, sa_type=JSON)
    headers: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    body_text: str | None = Field(default=None)
    # Set by processing for auto-replies, bounces, list mail...: never a customer message
    # or a seller reply (maild.ingest.autoreply). NULL: a person wrote it, or not processed.
    machine_kind: str | None = Field(default=None, max_length=24)
    # What threading reads, written by processing (maild.threads): order and sub-order
    # IDs ([[id, parent], ...]), the subject as compared, and the customer.
    order_ids: list[str] | None = Field(default=None, sa_type=JSON)
    sub_orders: list[list[str | None]] | None = Field(default=None, sa_type=JSON)
    subject_key: str | None = Field(default=None, max_length=255)
    customer_address: str | None = Field(default=None, max_length=320)
    customer_name: str | None = Field(default=None)
    # The classifier's verdict on an inbound message written by a person: its label
    # (ham when no score reached its threshold), every label's score, the model, and
    # whether the label came from a known campaign (NULL: classified before 0013).
    class_label: str | None = Field(default=None, max_length=24)
    class_scores: dict[str, float] | None = Field(default=None, sa_type=JSON)
    model_version: str | None = Field(default=None, max_length=64)
    class_campaign: bool | None = Field(default=None)
    # The message's first conversation; NULL on a processed message: not threaded yet.
    thread_id: int | None = Field(
        default=None, sa_column_args=[ForeignKey("thread.id", name="fk_message_thread_id")]
    )


class MessageLocation(SQLModel, table=True):
    """Where a message was seen on the server; one row per (folder, UIDVALIDITY, UID)."""

    __tablename__ = "message_location"
    __table_args__ = (UniqueConstraint("folder_id", "uidvalidity", "uid"),)

    id: int | None = Field(default=None, primary_key=True)
    message_pk: int = Field(foreign_key="message.id", index=True)
    folder_id: int = Field(foreign_key="folder.id")
    uidvalidity: int = Field(sa_type=BigInteger)
    uid: int = Field(sa_type=BigInteger)
    flags: list[str] | None = Field(default=None, sa_type=JSON)


class Attachment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    message_pk: int = Field(foreign_key="message.id", index=True)
    filename: str | None = Field(default=None)
    content_type: str = Field(max_length=255)
    size: int
    digest: str = Field(max_length=64)


class Thread(SQLModel, table=True):
    """A conversation: all messages about one order (or one exchange without an order).

    The counts and times are a summary of its messages, recomputed whenever a message
    joins, so views sort and filter without reading every message.
    """

    __table_args__ = (
        UniqueConstraint("mailbox_id", "key"),
        Index("ix_thread_customer_subject", "mailbox_id", "customer_address", "subject_key"),
        Index("ix_thread_last_message_at", "last_message_at"),
        Index("ix_thread_change", "mailbox_id", "change_seq"),
        Index("ix_thread_hidden_awaiting", "hidden", "awaiting_since"),
        Index("ix_thread_escalated", "escalated_at", "escalation_counted"),
    )

    id: int | None = Field(default=None, primary_key=True)
    mailbox_id: int = Field(foreign_key="mailbox.id")
    key: str = Field(max_length=255)
    subject: str | None = Field(default=None)
    subject_key: str | None = Field(default=None, max_length=255)
    customer_name: str | None = Field(default=None)
    customer_address: str | None = Field(default=None, max_length=320)
    unread: bool = Field(default=True)
    messages: int = _backfilled("0", default=0)
    last_message_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_inbound_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_outbound_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When the oldest customer message still waiting for a reply arrived; NULL: none waits.
    awaiting_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When an agent last looked at it (maild show): unread means a customer wrote since.
    shown_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sub_orders: int = _backfilled("0", default=0)
    after_sale_sub_orders: int = _backfilled("0", default=0)
    # In the Spam view, out of All, Unread and Response Needed (maild.store.thread_marks).
    hidden: bool = _backfilled("0", default=False)
    # The mailbox's change_seq when this conversation last changed.
    change_seq: int = _backfilled("0", default=0)
    # NULL (open), "escalated", "returned" or "closed" (maild.threads.summary): the last
    # three are off the seller's clock. ``escalated_at``: when the platform took it over,
    # counted once in maild_conversations_escalated_total (``escalation_counted``).
    lifecycle: str | None = Field(default=None, max_length=16)
    escalated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    escalation_counted: bool = _backfilled("0", default=False)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class ThreadRemoved(SQLModel, table=True):
    """A conversation merged into another: the SLA ticker forgets it (maild.store.sla_feed)."""

    __tablename__ = "thread_removed"
    __table_args__ = (Index("ix_thread_removed_change", "mailbox_id", "change_seq"),)

    thread_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    mailbox_id: int = Field(foreign_key="mailbox.id")
    change_seq: int


class FirstResponse(SQLModel, table=True):
    """A customer's wait that a seller reply ended, kept to count it once and to score.

    Threading writes one per answered wait, from the stored messages, whenever and
    however the reply arrived (maild.store.thread_marks). A running daemon counts
    each in the first-response histogram exactly once (``counted``, set before it is
    observed and never undone) and judges it on the platform's clock (``kind``,
    ``business_seconds``, ``in_time``): the in-time ratio is read from these rows.
    """

    __tablename__ = "first_response"
    __table_args__ = (
        UniqueConstraint("thread_id", "replied_at"),
        Index("ix_first_response_counted", "counted"),
        Index("ix_first_response_replied_at", "replied_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    mailbox_id: int = Field(foreign_key="mailbox.id")
    thread_id: int = Field(foreign_key="thread.id")
    asked_at: datetime = Field(sa_type=UTCDateTime)
    replied_at: datetime = Field(sa_type=UTCDateTime)
    counted: bool = Field(default=False)
    kind: str | None = Field(default=None, max_length=64)
    business_seconds: float | None = Field(default=None)
    in_time: bool | None = Field(default=None)


class ThreadOrder(SQLModel, table=True):
    """An order's one conversation in a mailbox; a conversation may hold several orders."""

    __tablename__ = "thread_order"
    __table_args__ = (UniqueConstraint("mailbox_id", "order_id"),)

    id: int | None = Field(default=None, primary_key=True)
    mailbox_id: int = Field(foreign_key="mailbox.id")
    order_id: str = Field(max_length=64, index=True)
    thread_id: int = Field(foreign_key="thread.id", index=True)


class MessageThread(SQLModel, table=True):
    """A message in a conversation; a message naming two orders is in both of theirs."""

    __tablename__ = "message_thread"

    message_pk: int = Field(foreign_key="message.id", primary_key=True)
    thread_id: int = Field(foreign_key="thread.id", primary_key=True, index=True)


class MessageOrder(SQLModel, table=True):
    """An order (and sub-order) a message names, for search and sub-order counts."""

    __tablename__ = "message_order"

    id: int | None = Field(default=None, primary_key=True)
    message_pk: int = Field(foreign_key="message.id", index=True)
    order_id: str = Field(max_length=64, index=True)
    sub_order_id: str | None = Field(default=None, max_length=64, index=True)


class Label(SQLModel, table=True):
    """A label on a message: from the model, a rule, or a person (a flag)."""

    __table_args__ = (UniqueConstraint("message_pk", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    message_pk: int = Field(foreign_key="message.id", index=True)
    name: str = Field(max_length=64)
    source: str = Field(max_length=16)
    score: float | None = Field(default=None)
    created_at: datetime = Field(sa_type=UTCDateTime)


class Feedback(SQLModel, table=True):
    """A person's verdict on a message: kept for audit and for ``maild train --include-feedback``.

    ``action`` is "flag" (``reason``: spam, fraud or inappropriate) or "unflag"
    (``reason``: the label taken off); ``origin`` is "agent" (``maild flag``/``unflag``)
    or "reply" (a seller reply to a flagged message took the flag off).
    """

    id: int | None = Field(default=None, primary_key=True)
    message_pk: int = Field(foreign_key="message.id", index=True)
    action: str = Field(max_length=8)
    reason: str = Field(max_length=24)
    origin: str = Field(max_length=8)
    created_at: datetime = Field(sa_type=UTCDateTime)
    # Counted once in maild_messages_(un)flagged_total by a running daemon.
    counted: bool = _backfilled("0", default=False, index=True)


class PolicyRefusal(SQLModel, table=True):
    """A reply the outbound policy refused, one row per rule broken: the refused text
    itself is kept nowhere, but that an agent tried is kept for audit and counted once
    in maild_outbound_blocked_total by a running daemon.

    ``origin`` is "agent" (``maild reply``/``send``) or "sender" (the daemon's re-check
    before sending refused a queued message under a policy changed since).
    """

    __tablename__ = "policy_refusal"

    id: int | None = Field(default=None, primary_key=True)
    mailbox_id: int = Field(foreign_key="mailbox.id")
    # Not a foreign key: conversations are merged away, their refusals stay.
    thread_id: int | None = Field(default=None)
    rule: str = Field(max_length=32)
    origin: str = Field(max_length=8)
    created_at: datetime = Field(sa_type=UTCDateTime)
    counted: bool = Field(default=False, index=True)


class OutboxItem(SQLModel, table=True):
    """A reply on its way out; written before any network I/O so none is lost.

    ``state`` moves as :mod:`maild.outbound.outbox` allows; ``raw`` is the message
    exactly as sent and filed in Sent. ``copied_at``: when the copy reached the Sent
    folder (NULL while it has not, or when the mailbox keeps none); ``attempted_at``:
    when the last attempt started, which tells an interrupted attempt from a live one.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("mailbox_id", "message_id"),
        Index("ix_outbox_state_next", "state", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    mailbox_id: int = Field(foreign_key="mailbox.id")
    thread_id: int | None = Field(default=None, foreign_key="thread.id")
    message_id: str = Field(max_length=998)
    raw: bytes = Field(sa_type=LargeBinary)
    state: str = Field(default="queued", max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None)
    created_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sender: str = _backfilled("", default="", max_length=320)
    recipients: list[str] = _backfilled("[]", default_factory=list, sa_type=JSON)
    subject: str | None = Field(default=None)
    order_id: str | None = Field(default=None, max_length=64)
    smtp_reply: str | None = Field(default=None)
    copied_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attempted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class MailboxLease(SQLModel, table=True):
    """Which maild instance owns a mailbox, until when (maild.leases, maild.store.leases).

    Only instances sharing a PostgreSQL database use it. ``owner`` NULL: released.
    """

    __tablename__ = "mailbox_lease"

    mailbox_id: int = Field(foreign_key="mailbox.id", primary_key=True)
    owner: str | None = Field(default=None, max_length=255)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acquired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Instance(SQLModel, table=True):
    """A live maild instance's heartbeat, renewed with its leases: how instances count
    each other to share the mailboxes fairly. Rows of dead instances are deleted."""

    __tablename__ = "maild_instance"

    name: str = Field(primary_key=True, max_length=255)
    started_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)


def core_table(name: str) -> Table:
    """A table for SQLAlchemy Core statements, used where batches make the ORM too slow."""
    return SQLModel.metadata.tables[name]
