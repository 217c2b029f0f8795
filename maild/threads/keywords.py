"""Which word stands right before a number, and what it says the number is.

Most marketplace IDs are bare digits, and so are phone, tracking, ticket, product and
bank-card numbers. The words people put before a number ("订单号", "PO#", "工单号",
"Tracking:") are the best evidence of what it is, so the keyword nearest before a
candidate decides: an order keyword confirms it (or makes it a sub-order), an
"other" keyword rejects it. Longer keywords win where two start at the same place,
so "子订单号" is a sub-order keyword although it contains the order keyword "订单号".
"""

from __future__ import annotations

__all__ = ["KeywordIndex", "Role"]

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from maild.threads.charfold import fold

Role = Literal["order", "sub_order", "other"]

_MAX_KEYWORD: Final = 40
_SPACE: Final = re.compile(r"\s+")


def _key(text: str) -> str:
    return _SPACE.sub("", text).lower()


def _fragment(keyword: str) -> str:
    """A keyword as a regex: spacing is free, ASCII words match whole, plural included."""
    body = r"\s{0,3}".join(re.escape(part) for part in keyword.split())
    before = r"(?<![A-Za-z])" if keyword[0].isascii() and keyword[0].isalpha() else ""
    after = r"s?(?![A-Za-z])" if keyword[-1].isascii() and keyword[-1].isalpha() else ""
    return before + body + after


@dataclass(frozen=True, slots=True)
class KeywordIndex:
    """A preset's keywords, compiled once into one alternation."""

    regex: re.Pattern[str] | None
    roles: Mapping[str, Role]

    @classmethod
    def build(cls, keywords: Mapping[Role, Sequence[str]]) -> KeywordIndex:
        """Index keywords by role (the preset loader refuses a keyword under two roles)."""
        roles: dict[str, Role] = {}
        spellings: set[str] = set()
        for role, words in keywords.items():
            for word in words:
                folded = " ".join(fold(word, _MAX_KEYWORD).split())
                if folded:
                    roles[_key(folded)] = role
                    spellings.add(folded)
        if not spellings:
            return cls(None, roles)
        ordered = sorted(spellings, key=lambda word: (-len(word), word))
        regex = re.compile("|".join(_fragment(word) for word in ordered), re.IGNORECASE)
        return cls(regex, roles)

    def nearest_role(self, text: str, end: int, window: int) -> Role | None:
        """The role of the last keyword in the ``window`` characters before ``end``."""
        if self.regex is None:
            return None
        found = list(self.regex.finditer(text, max(0, end - window), end))
        if not found:
            return None
        key = _key(found[-1].group())
        return self.roles.get(key) or self.roles.get(key.removesuffix("s"))
