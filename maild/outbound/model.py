"""The data the outbound policy works on: a draft, a mailbox's policy, a violation.

Kept apart from the rules so that every rule module, the CLI and the config code
share one vocabulary without importing each other.
"""

from __future__ import annotations

__all__ = [
    "ALL_RULES",
    "CONTACT_KINDS",
    "DEFAULT_ATTACHMENT_TYPES",
    "DEFAULT_MAX_ATTACHMENT_BYTES",
    "Attachment",
    "ContactKind",
    "Draft",
    "OutboundPolicy",
    "Part",
    "Rule",
    "Violation",
]

import re
from dataclasses import dataclass, field
from typing import Final, Literal, get_args

Rule = Literal["external-link", "marketing", "contact-info", "attachment"]
ContactKind = Literal["phone", "email", "wechat", "qq", "whatsapp", "telegram", "line"]
# Where a violation's span points: the subject, the plain text, the HTML source (anchors,
# images), the HTML's visible text as maild.ingest.htmltext renders it, or the attachments.
Part = Literal["subject", "text", "html", "html-text", "attachments"]

ALL_RULES: Final[tuple[Rule, ...]] = get_args(Rule)
CONTACT_KINDS: Final[tuple[ContactKind, ...]] = get_args(ContactKind)
# CONVENTIONS 18: the marketplaces accept these and nothing that can carry code.
DEFAULT_ATTACHMENT_TYPES: Final = ("pdf", "jpg", "jpeg", "png", "gif", "txt")
DEFAULT_MAX_ATTACHMENT_BYTES: Final = 10 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file to send with a draft; only what the policy judges, never the bytes."""

    name: str | None
    content_type: str
    size: int


@dataclass(frozen=True, slots=True)
class Draft:
    """A reply before it is sent: plain text, optionally an HTML alternative."""

    text: str
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    # The customer sees it first, so it must keep the rules as well as the body.
    subject: str | None = None


@dataclass(frozen=True, slots=True)
class Violation:
    """One thing a marketplace would punish, where it is, and how to fix it.

    ``span`` is ``(start, end)`` in the text ``part`` names; for an attachment it is
    the attachment's index and the next.
    """

    rule: Rule
    span: tuple[int, int]
    text: str
    hint: str
    part: Part = "text"


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    """One mailbox's outbound rules, ready to check drafts with.

    ``allowed_domains`` are lower-case ASCII (international names in xn-- form); their
    subdomains are allowed too. ``protected`` are the marketplace's order-ID patterns:
    what they match is never taken for a phone number.
    """

    allowed_domains: tuple[str, ...] = ()
    rules: frozenset[Rule] = frozenset(ALL_RULES)
    marketing_phrases: tuple[str, ...] = ()
    allowed_contacts: frozenset[ContactKind] = frozenset()
    attachment_types: frozenset[str] = frozenset(DEFAULT_ATTACHMENT_TYPES)
    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES
    phone_regions: tuple[str, ...] = ("US", "CN")
    protected: tuple[re.Pattern[str], ...] = field(default=(), compare=False)
    # A classifier spam score at or above it is marketing; None: the score is not used.
    spam_threshold: float | None = None

    def allows_host(self, host: str) -> bool:
        """Whether ``host`` (lower-case ASCII) is an allowed domain or under one."""
        return any(host == d or host.endswith("." + d) for d in self.allowed_domains)
