"""Reduce a subject to what stays the same across a conversation.

When a message names no order and its In-Reply-To/References point nowhere known,
the subject (with the same customer, within a window) is the last way to thread it.
Mail clients and marketplaces decorate subjects as a conversation goes on: reply and
forward prefixes in many languages, sometimes nested or counted ("Re[2]:",
"回复：转发：Re:"), ticket and list tags ("[Ticket #123]", "【工单提醒】",
"[Important]"), full-width punctuation from Chinese clients and re-wrapped
whitespace. All of that is removed, repeatedly, from the front.
"""

from __future__ import annotations

__all__ = ["strip_subject", "subject_key"]

import re
from typing import Final

from maild.threads.charfold import fold

_MAX_SUBJECT: Final = 2_000
_PREFIX: Final = re.compile(
    r"(?:re|fwd?|aw|wg|antw|sv|vs|tr|rv|enc|回复|回覆|答复|答覆|转发|轉寄|轉發)"
    r"[ \t]{0,3}(?:\[[0-9]{1,4}\]|\([0-9]{1,4}\)|\^[0-9]{1,4})?[ \t]{0,3}:[ \t]*",
    re.IGNORECASE,
)
_TAG: Final = re.compile(r"(?:\[[^\[\]]{0,60}\]|【[^【】]{0,60}】)[ \t]*")


def strip_subject(subject: str) -> str:
    """The subject without reply/forward prefixes and leading tags, whitespace collapsed.

    An empty result means the subject says nothing that could thread a message.
    """
    text = " ".join(fold(subject, _MAX_SUBJECT).split())
    while True:
        prefix = _PREFIX.match(text) or _TAG.match(text)
        if prefix is None:
            return text
        text = text[prefix.end() :]


def subject_key(subject: str) -> str:
    """The form two subjects are compared in: stripped and case-folded."""
    return strip_subject(subject).casefold()
