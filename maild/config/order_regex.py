"""What an order-ID regular expression in a preset or in maild.toml may be, and how it runs.

Order-ID patterns are scanned over mail that anyone can send, so a pattern must not
let a hostile message make a worker spin. Python's engine backtracks, and the usual
way a harmless-looking pattern goes wrong is an unbounded repeat (``\\d+``, ``.*``).
An order ID has a known length, so every repeat must have an upper bound: then each
attempt examines a bounded number of characters, and a scan costs time linear in
the (already capped) text. The check is a small scan of the pattern text rather than
a parse with the standard library's private regex parser, which has no public API.

Every pattern is compiled the same way, here, so that what ``check-config`` accepts
is exactly what the extractor runs: ASCII classes (text is folded to ASCII digits
first), case-insensitive, and wrapped so a match never starts or ends inside a word
or number (``x1234567890123`` or ``12345678901234567890`` hold no 13-digit ID).
"""

from __future__ import annotations

__all__ = [
    "MAX_REGEX_CHARS",
    "check_order_regex",
    "compile_bare_order_regex",
    "compile_order_regex",
]

import re
from typing import Final

MAX_REGEX_CHARS: Final = 300
_FLAGS: Final = re.ASCII | re.IGNORECASE
_BEFORE: Final = r"(?<![0-9A-Za-z])"
_AFTER: Final = r"(?![0-9A-Za-z])"
_OPEN_RANGE: Final = re.compile(r"\{[0-9]*,\}")
_GROUPS: Final = frozenset({"id", "parent"})


def compile_order_regex(text: str) -> re.Pattern[str]:
    """Compile an order-ID pattern as the extractor runs it; ValueError says what is wrong."""
    if len(text) > MAX_REGEX_CHARS:
        raise ValueError(f"is {len(text)} characters long; at most {MAX_REGEX_CHARS} are allowed")
    unbounded = _unbounded_repeat(text)
    if unbounded is not None:
        raise ValueError(
            f"has an unbounded repeat {unbounded!r}: an order ID has a known length, so write"
            " a bounded one such as {13,15} (unbounded repeats let hostile mail slow maild down)"
        )
    try:
        bare = re.compile(text, _FLAGS)
        wrapped = re.compile(f"{_BEFORE}(?:{text}){_AFTER}", _FLAGS)
    except re.error as exc:
        where = f" at character {exc.pos + 1}" if exc.pos is not None else ""
        raise ValueError(f"is not a valid regular expression: {exc.msg}{where}") from None
    if bare.fullmatch(""):
        raise ValueError("matches the empty string, so it would find an order ID everywhere")
    unknown = sorted(set(bare.groupindex) - _GROUPS)
    if unknown:
        raise ValueError(
            f"has a named group {unknown[0]!r}; the only names with a meaning are"
            " 'id' (the ID inside a longer match) and 'parent' (a sub-order's parent order)"
        )
    return wrapped


def compile_bare_order_regex(text: str) -> re.Pattern[str]:
    """A checked pattern without its word-boundary guards, for a quick first search.

    Every match of the guarded pattern is also a match of this one, and this one, with
    no look-behind in front, lets the regex engine skip ahead to where a match can
    start: one search tells whether (and from where) the guarded pattern need run.
    """
    return re.compile(text, _FLAGS)


def check_order_regex(text: str) -> str:
    """Validate a pattern for the settings models, keeping the text as written."""
    compile_order_regex(text)
    return text


def _unbounded_repeat(text: str) -> str | None:
    """The first ``*``, ``+`` or ``{n,}`` outside a character class, else None.

    A ``+`` right after another quantifier makes it possessive (``{2}+``), not
    unbounded, so it is let through.
    """
    index = 0
    in_class = False
    previous = ""
    while index < len(text):
        char = text[index]
        step = 1
        if char == "\\":
            step = 2
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            # A "]" first in a class (after an optional "^") is a literal.
            step += text.startswith("^", index + 1)
            step += text.startswith("]", index + step)
        elif char == "*" or (char == "+" and previous not in {"}", "?", "*", "+"}):
            return char
        elif char == "{":
            open_range = _OPEN_RANGE.match(text, index)
            if open_range is not None:
                return open_range.group()
        previous = char
        index += step
    return None
