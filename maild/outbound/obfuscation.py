"""Undo the disguises sellers use to slip a link or an address past a filter.

"example[.]com", "example dot com", "example。com", "hxxp://", "bob(at)mail.example"
and zero-width characters inside a name all read as a link to a buyer, so the link
rules search a folded copy of the text in which each disguise is written plainly.
Violations must still point at what the seller typed, so every edit is recorded and
offsets in the folded copy map back to the original. Most drafts contain no disguise
at all; then the folded text is the original and mapping costs nothing.
"""

from __future__ import annotations

__all__ = ["Edit", "Folded", "fold"]

import re
from dataclasses import dataclass
from typing import Final, Literal

EditKind = Literal["invisible", "dot", "spoken-dot", "at", "colon", "scheme"]

# Each disguise is one named group. Every branch starts with a character, not an
# assertion, so that the regex engine skips ordinary text fast; what an assertion
# would check (an ASCII letter or digit before "dot"/"点", none before "hxxp") is
# checked in fold(). "spoken" (" dot ", "点") is weaker evidence than brackets or
# full-width dots, so links.py asks more of the name it joins.
_DISGUISE: Final = re.compile(
    r"""
    (?P<invisible>[\u200b-\u200d\u2060\ufeff\u00ad]+)
    |(?P<dot>[\[({<][ ]?(?:\.|dot|点)[ ]?[\])}>][ ]?|[。．｡])
    |(?P<spoken>[ ]dot[ ](?=[a-z])|[点點][ ]?(?=[a-z]))
    |(?P<at>[\[({<][ ]?(?:@|at)[ ]?[\])}>][ ]?|＠)
    |(?P<colon>\[:\]|\(:\))
    |(?P<scheme>h(?:xx|\*\*|__)p(?=s?(?::|\[:\]|\(:\))))
    """,
    re.IGNORECASE | re.VERBOSE,
)
# The same disguises without groups: about four times faster to search, so it decides
# whether the grouped pass is needed at all (most drafts hold no disguise).
_ANY_DISGUISE: Final = re.compile(
    r"[\u200b-\u200d\u2060\ufeff\u00ad。．｡＠点點]|[\[({<][ ]?(?:\.|dot|点|@|at|:)[ ]?[\])}>]"
    r"|[ ]dot[ ]|h(?:xx|\*\*|__)p",
    re.IGNORECASE,
)
_PLAIN: Final[dict[str, tuple[EditKind, str]]] = {
    "invisible": ("invisible", ""),
    "dot": ("dot", "."),
    "spoken": ("spoken-dot", "."),
    "at": ("at", "@"),
    "colon": ("colon", ":"),
    "scheme": ("scheme", "http"),
}


@dataclass(frozen=True, slots=True)
class Edit:
    """One disguise: where its plain form sits in the folded text and where the
    seller's characters are in the original."""

    start: int
    end: int
    original_start: int
    original_end: int
    kind: EditKind


@dataclass(frozen=True, slots=True)
class Folded:
    """The text with every disguise written plainly, and the way back."""

    text: str
    edits: tuple[Edit, ...] = ()

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that became ``text[start:end]``."""
        return self._back(start, at_end=False), self._back(end, at_end=True)

    def kinds(self, start: int, end: int) -> frozenset[EditKind]:
        """The disguises undone inside ``text[start:end]``."""
        return frozenset(e.kind for e in self.edits if e.start < end and e.end > start)

    def _back(self, position: int, *, at_end: bool) -> int:
        shift = 0
        for edit in self.edits:
            if position <= edit.start:
                break
            if position < edit.end:  # inside a replacement: all of the disguise
                return edit.original_end if at_end else edit.original_start
            shift = edit.original_end - edit.end
        return position + shift


def _alnum_before(text: str, at: int) -> bool:
    return at > 0 and text[at - 1].isascii() and text[at - 1].isalnum()


def fold(text: str) -> Folded:
    """``text`` with its link and address disguises written plainly."""
    first = _ANY_DISGUISE.search(text)
    if first is None:
        return Folded(text)
    parts: list[str] = []
    edits: list[Edit] = []
    done = length = 0
    for match in _DISGUISE.finditer(text, first.start()):
        kind, plain = _PLAIN[match.lastgroup or ""]
        start = match.start()
        if kind == "scheme" and _alnum_before(text, start):
            continue
        if (
            kind in ("spoken-dot", "dot", "at")
            and text[start - 1 : start] == " "
            and start - 1 >= done
        ):
            start -= 1  # "example [.] com": the space before belongs to the disguise
        if kind == "spoken-dot" and not _alnum_before(text, start):
            continue
        parts.append(text[done:start])
        length += start - done
        parts.append(plain)
        edits.append(Edit(length, length + len(plain), start, match.end(), kind))
        length += len(plain)
        done = match.end()
    parts.append(text[done:])
    return Folded("".join(parts), tuple(edits))
