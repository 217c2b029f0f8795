"""Check a draft against its mailbox's outbound policy, before anything is queued.

A marketplace can suspend a seller for one reply with an outside link, a phone
number or a coupon, so every rule is on unless the mailbox turns it off, and each
violation says what to change. ``check`` is pure: the policy is built once per
mailbox (:func:`policy_for`) and then checks any number of drafts.
"""

from __future__ import annotations

__all__ = [
    "Attachment",
    "Draft",
    "OutboundPolicy",
    "Violation",
    "check",
    "policy_for",
]

from maild.config.settings import MailboxSettings
from maild.ingest.htmltext import read_html
from maild.outbound.attachments import check_attachments
from maild.outbound.contacts import check_contacts
from maild.outbound.links import check_html_links, check_text_links
from maild.outbound.marketing import check_marketing
from maild.outbound.model import ALL_RULES, Attachment, Draft, OutboundPolicy, Part, Violation
from maild.threads.presets import Preset


def policy_for(mailbox: MailboxSettings, preset: Preset) -> OutboundPolicy:
    """The policy of ``mailbox``, whose order IDs (by ``preset``) are never phone numbers.

    Patterns that need a keyword before them are left out: alone they match any long
    number, phone numbers included.
    """
    outbound = mailbox.outbound
    return OutboundPolicy(
        allowed_domains=mailbox.allowed_domains,
        rules=frozenset(r for r in ALL_RULES if r not in outbound.disabled_rules),
        marketing_phrases=outbound.marketing_phrases,
        allowed_contacts=frozenset(outbound.allowed_contacts),
        attachment_types=frozenset(outbound.attachment_types),
        max_attachment_bytes=outbound.max_attachment_bytes,
        phone_regions=outbound.phone_regions,
        protected=tuple(p.regex for p in preset.patterns if not p.needs_keyword),
        spam_threshold=outbound.spam_threshold if mailbox.classifier_model is not None else None,
    )


def _check_text(text: str, policy: OutboundPolicy, part: Part) -> list[Violation]:
    found: list[Violation] = []
    if {"external-link", "contact-info"} & policy.rules:
        found += check_text_links(text, policy, part)
    if "contact-info" in policy.rules:
        found += check_contacts(text, policy, part)
    if "marketing" in policy.rules:
        found += check_marketing(text, policy, part)
    return found


def _spam_signal(draft: Draft, policy: OutboundPolicy, score: float | None) -> list[Violation]:
    """The classifier's verdict as a marketing signal: what no phrase list names."""
    threshold = policy.spam_threshold
    if score is None or threshold is None or score < threshold:
        return []
    return [
        Violation(
            "marketing",
            (0, len(draft.text)),
            draft.text[:60],
            f"the spam classifier scores this draft {score:.2f} (refused from {threshold:.2f}):"
            " it reads like promotional bulk mail; answer the buyer's question plainly",
        )
    ]


def check(draft: Draft, policy: OutboundPolicy, spam_score: float | None = None) -> list[Violation]:
    """Every violation in ``draft``, by part, then position; empty when it may be sent.

    ``spam_score``: the mailbox's classifier's spam probability for the draft, if it
    has a model (:mod:`maild.outbound.spam_signal` computes it at the edge).
    """
    found = _check_text(draft.text, policy, "text")
    if "marketing" in policy.rules:
        found += _spam_signal(draft, policy, spam_score)
    if draft.subject:
        found += _check_text(draft.subject, policy, "subject")
    if draft.html is not None:
        page = read_html(draft.html)
        found += _check_text(page.text, policy, "html-text")
        found += check_html_links(draft.html, page.links, policy)
    if "attachment" in policy.rules:
        found += check_attachments(draft.attachments, policy)
    order: dict[Part, int] = {"subject": 0, "text": 1, "html-text": 2, "html": 3, "attachments": 4}
    return sorted(
        (v for v in found if v.rule in policy.rules),
        key=lambda v: (order[v.part], v.span, v.rule),
    )
