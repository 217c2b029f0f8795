"""Check a draft against everything a mailbox's policy holds: its rules and its model.

One function for the three places that check a draft (``maild policy check``,
``maild reply``/``send`` before queueing, the sender before sending), so they can
never disagree. The classifier is only asked for a mailbox that names a
``classifier_model``: a mailbox without one costs nothing. Its model is loaded once
per file and process.
"""

from __future__ import annotations

__all__ = ["check_draft"]

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from maild.classify.message import MessageText
from maild.config.settings import MailboxSettings, Settings
from maild.ingest.htmltext import read_html
from maild.outbound.model import Draft, OutboundPolicy, Violation
from maild.outbound.policy import check, policy_for
from maild.threads.presets import load_preset

if TYPE_CHECKING:
    from maild.classify.model import Classifier


def _model(path: str) -> Classifier:
    # Imported here: numpy loads only for a mailbox with a model.
    from maild.classify.shared import shared_model

    return shared_model(path)


def _spam_score(settings: Settings, mailbox: MailboxSettings, draft: Draft) -> float | None:
    if mailbox.classifier_model is None or "marketing" in mailbox.outbound.disabled_rules:
        return None
    base = settings.source.parent if settings.source else Path.cwd()
    model = _model(str((base / mailbox.classifier_model).resolve()))
    body = draft.text if draft.text.strip() or draft.html is None else read_html(draft.html).text
    text = MessageText(subject=draft.subject or "", body=body, has_html=draft.html is not None)
    [prediction] = model.predict([text])
    return prediction.scores.get("spam")


class _ByPolicyKeys:
    """A mailbox, equal to another with the same outbound keys (whatever else differs)."""

    __slots__ = ("key", "mailbox")

    def __init__(self, mailbox: MailboxSettings) -> None:
        self.mailbox = mailbox
        self.key = (
            mailbox.preset,
            mailbox.order_patterns,
            mailbox.allowed_domains,
            mailbox.outbound,
            mailbox.classifier_model,
        )

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _ByPolicyKeys) and self.key == other.key


@functools.lru_cache(maxsize=64)
def _policy(keyed: _ByPolicyKeys) -> OutboundPolicy:
    mailbox = keyed.mailbox
    return policy_for(mailbox, load_preset(mailbox.preset, mailbox.order_patterns))


def check_draft(settings: Settings, mailbox: MailboxSettings, draft: Draft) -> list[Violation]:
    """Every violation of ``draft`` under ``mailbox``'s policy; empty when it may be sent.

    The policy is built once per distinct set of the mailbox's outbound keys (the
    preset file is read and validated then), since the gateway and the sender check
    every message they handle.
    """
    return check(draft, _policy(_ByPolicyKeys(mailbox)), _spam_score(settings, mailbox, draft))
