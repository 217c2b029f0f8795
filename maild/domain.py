"""Plain data shared by the pure core and the edges.

Frozen, slotted dataclasses with no I/O and no library types, so every layer can
pass them around and tests can build them by hand.
"""

__all__ = [
    "ARBITER_NOTES",
    "CAMPAIGN_NOTE",
    "AttachmentInfo",
    "ConversationFacts",
    "Direction",
    "FolderState",
    "LandResult",
    "LandedMessage",
    "ParsedMail",
    "ProcessOutcome",
    "RawMessage",
    "Verdict",
]

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

# "in": received from a customer or the marketplace; "out": the seller's own mail.
Direction = Literal["in", "out"]


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One message as fetched from a folder, with the identity it is deduplicated by.

    ``message_id`` is the Message-ID header, or a synthetic one derived from the
    digest when the header is missing, so that every message has a stable key.
    """

    uid: int
    raw: bytes
    message_id: str
    digest: str
    internaldate: datetime | None = None
    flags: tuple[str, ...] = ()
    # The store's compressed form of ``raw`` (maild.store.types.RAW_CODEC), made off the
    # event loop before landing.
    compressed: bytes | None = None


@dataclass(frozen=True, slots=True)
class LandResult:
    """What one landing transaction did, for logs, metrics and ``run --once`` summaries."""

    stored: int
    duplicates: int
    uidvalidity_changed: bool


@dataclass(frozen=True, slots=True)
class LandedMessage:
    """A stored message as processing reads it back: its bytes and where it came from."""

    pk: int
    mailbox: str
    direction: Direction
    raw: bytes
    # Already stored compressed: processing need not write the bytes back.
    compressed: bool = False
    # Why the stored bytes could not be read back (``raw`` is then empty); processing
    # quarantines the message with this reason and goes on with the others.
    unreadable: str | None = None


@dataclass(frozen=True, slots=True)
class FolderState:
    """The sync position of one folder: where the next fetch starts."""

    mailbox: str
    folder: str
    uidvalidity: int | None
    last_uid: int
    last_sync: datetime | None
    last_error: str | None
    uidvalidity_changes: int


@dataclass(frozen=True, slots=True)
class AttachmentInfo:
    """What is known of one attachment without keeping its bytes.

    ``size`` and ``sha256`` are of the transfer-decoded payload, so the same file sent
    twice gives the same digest whatever the encoding. ``filename`` is decoded from RFC
    2231/2047 for display and search only: it comes from the sender and must never be
    used as a path.
    """

    filename: str | None
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """One message as the pipeline needs it: identity, people, text and trust.

    ``text`` is the message's own words only: the text/plain parts, or the HTML
    converted to text when there is none. Attached messages (a bounced original, a
    forwarded mail) are listed in ``attachments`` but never part of ``text``, so an
    order ID quoted in a bounce cannot thread it into a customer's conversation.
    ``degraded`` is true when anything was guessed, replaced or cut while decoding;
    ``degraded_reasons`` says what, in short strings safe to log. ``headers`` holds a
    fixed, small set of lower-cased header names that later stages read (auto-reply
    and list markers, relay type, the top Content-Type, ...), first occurrence only.
    Addresses are lower-cased; ``date`` is timezone-aware (UTC) or None.
    """

    message_id: str | None
    subject: str
    from_name: str | None
    from_addr: str | None
    to: tuple[tuple[str, str], ...] = ()
    cc: tuple[tuple[str, str], ...] = ()
    reply_to: str | None = None
    date: datetime | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    text: str = ""
    html: bool = False
    attachments: tuple[AttachmentInfo, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict, hash=False)
    degraded: bool = False
    degraded_reasons: tuple[str, ...] = ()
    charsets: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ConversationFacts:
    """What a message says about the conversation it belongs to, for thread resolution.

    ``order_ids`` include the parents of the ``sub_orders`` (pairs of sub-order ID and
    parent, the parent None when unknown); ``from_quote`` says the IDs were only found
    in quoted earlier messages. ``customer_*`` is the buyer: the sender of an inbound
    message, the recipient of the seller's own.
    """

    order_ids: tuple[str, ...] = ()
    sub_orders: tuple[tuple[str, str | None], ...] = ()
    from_quote: bool = False
    subject_key: str = ""
    customer_address: str | None = None
    customer_name: str | None = None


#: Why a label can come with a score below the usual threshold; ``maild classify`` and
#: ``maild show`` say it in these words.
CAMPAIGN_NOTE = "close to a known spam or phishing campaign"
#: Why a spam or fraud label can come with a lower score than the other of the two
#: (see :attr:`Verdict.reasons`), in the words ``maild classify`` and ``maild show`` use.
ARBITER_NOTES = {"fraud": "its words read as phishing", "spam": "its words read as spam"}


@dataclass(frozen=True, slots=True)
class Verdict:
    """The classifier's label for a message, every label's score, and which model said so.

    ``scores`` holds the calibrated probability of every label, kept even when the
    label stays ``ham`` because no non-ham score reached its threshold: a reviewer can
    still sort borderline mail by score. ``known_campaign`` says the label came from
    the lower thresholds for messages close to a known spam or phishing campaign
    (:mod:`maild.classify.exemplars`), which is why such a label can carry a score
    below the usual threshold; None where that was not recorded (classified before it
    was). Whether flagged mail is spam or fraud is decided by a second model that reads
    the words (:func:`maild.classify.model.arbitrate`), so a message labelled fraud can
    score higher as spam, and the other way round.
    """

    label: str
    scores: Mapping[str, float] = field(default_factory=dict, hash=False)
    model_version: str = ""
    known_campaign: bool | None = None

    @property
    def reasons(self) -> tuple[str, ...]:
        """What a reader needs to see beside a label whose score does not explain it: a
        known campaign, or an arbiter that chose spam or fraud against the scores."""
        out = [CAMPAIGN_NOTE] if self.known_campaign else []
        other = {"spam": "fraud", "fraud": "spam"}.get(self.label)
        if other and self.scores.get(self.label, 0.0) < self.scores.get(other, 0.0):
            out.append(ARBITER_NOTES[self.label])
        return tuple(out)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form for ``maild classify --json`` and ``maild show --json``."""
        return {
            "label": self.label,
            "scores": {k: round(v, 6) for k, v in self.scores.items()},
            "model_version": self.model_version,
            "known_campaign": self.known_campaign,
        }


@dataclass(frozen=True, slots=True)
class ProcessOutcome:
    """What processing made of one landed message: parsed fields, or why it is quarantined.

    ``compressed`` is the message's bytes in the store's encoding (``RAW_CODEC``), made by
    the worker for a message landing stored as it came. ``machine_kind`` names the kind
    of machine mail (auto-reply, bounce, ...) a parsed message is, None for a person's.
    ``tags`` (pre-sale, after-sale, customer-care, urgent, ticket:...) and ``verdict``
    are only set for inbound mail a person wrote.
    """

    pk: int
    parsed: ParsedMail | None
    error: str | None = None
    compressed: bytes | None = None
    machine_kind: str | None = None
    facts: ConversationFacts = ConversationFacts()
    tags: tuple[str, ...] = ()
    verdict: Verdict | None = None
