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
from maild.outbound.model import Draft, Violation
from maild.outbound.policy import check, policy_for
from maild.threads.presets import load_preset

if TYPE_CHECKING:
    from maild.classify.model import Classifier


@functools.lru_cache(maxsize=8)
def _model(path: str) -> Classifier:
    # Imported here: numpy and scikit-learn load only for a mailbox with a model.
    from maild.classify.model import load_model

    return load_model(Path(path))


def _spam_score(settings: Settings, mailbox: MailboxSettings, draft: Draft) -> float | None:
    if mailbox.classifier_model is None or "marketing" in mailbox.outbound.disabled_rules:
        return None
    base = settings.source.parent if settings.source else Path.cwd()
    model = _model(str((base / mailbox.classifier_model).resolve()))
    body = draft.text if draft.text.strip() or draft.html is None else read_html(draft.html).text
    text = MessageText(subject=draft.subject or "", body=body, has_html=draft.html is not None)
    [prediction] = model.predict([text])
    return prediction.scores.get("spam")


def check_draft(settings: Settings, mailbox: MailboxSettings, draft: Draft) -> list[Violation]:
    """Every violation of ``draft`` under ``mailbox``'s policy; empty when it may be sent."""
    policy = policy_for(mailbox, load_preset(mailbox.preset, mailbox.order_patterns))
    return check(draft, policy, _spam_score(settings, mailbox, draft))
