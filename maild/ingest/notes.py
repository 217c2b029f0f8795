"""What one parse noticed about a message's trustworthiness, collected as it goes.

Every stage of parsing can find that text was guessed, replaced or cut short. They
report it here instead of raising, because a message that is partly unreadable is
still a customer message that must be stored and answered; the reasons travel with
the result so that nobody trusts a garbled text blindly. One instance lives for one
``parse`` call, so the parser keeps no state between messages.
"""

__all__ = ["Notes", "safe_label"]

import re

# Enough to explain any message; a hostile one must not grow the result without bound.
_MAX_REASONS = 12
_MAX_CHARSETS = 16
_LABEL = re.compile(r"[A-Za-z0-9._:+-]{1,40}")


def safe_label(raw: str) -> str:
    """A charset label as it may appear in a reason or a metric: short and printable.

    Labels come from the message, so an attacker chooses them; anything outside the
    characters real charset names use is replaced rather than echoed.
    """
    label = raw.strip().strip("\"'").lower()
    return label if _LABEL.fullmatch(label) else "invalid"


class Notes:
    """Degradation reasons and declared charsets, in the order first seen, bounded."""

    __slots__ = ("charsets", "reasons")

    def __init__(self) -> None:
        self.reasons: list[str] = []
        self.charsets: list[str] = []

    def degrade(self, reason: str) -> None:
        if reason not in self.reasons and len(self.reasons) < _MAX_REASONS:
            self.reasons.append(reason)

    def saw_charset(self, label: str) -> None:
        if label not in self.charsets and len(self.charsets) < _MAX_CHARSETS:
            self.charsets.append(label)
