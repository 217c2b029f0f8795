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
    "compile_lowered_bare_order_regex",
    "compile_order_regex",
]

import re
from collections.abc import Iterator
from typing import Final

MAX_REGEX_CHARS: Final = 300
_FLAGS: Final = re.ASCII | re.IGNORECASE
_BEFORE: Final = r"(?<![0-9A-Za-z])"
_AFTER: Final = r"(?![0-9A-Za-z])"
_OPEN_RANGE: Final = re.compile(r"\{[0-9]*,\}")
_GROUPS: Final = frozenset({"id", "parent"})
_QUANTIFIERS: Final = frozenset("*+?{")
# A pattern that starts with one class (or \d) repeated a bounded number of times.
_LEADING_REPEAT: Final = re.compile(
    r"(\[\^?\]?(?:\\.|[^\]\\])*\]|\\d)\{([0-9]+)(?:,([0-9]+))?\}(?![?+])"
)


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
    The engine skips fastest when the pattern starts with one character class, and
    ``[0-9]{3}`` starts with a repeat; so a leading repeat of a class is written with
    its first character apart (``[0-9][0-9]{2}``), which matches the same text at
    twice the speed.
    """
    return re.compile(_first_apart(text), _FLAGS)


def compile_lowered_bare_order_regex(text: str) -> re.Pattern[str] | None:
    """The bare form of a pattern that starts with a letter, for the text with its ASCII
    letters lower-cased, or None for any other pattern.

    A case-insensitive letter gives the engine nothing to skip ahead by, so ``D[0-9]{2}``
    is tried at every character. Over the lower-cased text the letter can be matched
    case-sensitively, as ``d``, which the engine finds with its fast literal scan (six
    times faster). With ASCII classes and case-insensitive matching, each character
    and its ASCII lower case match the same expressions, so the matches are the same.
    """
    first, rest = text[:1], text[1:]
    if not (first.isascii() and first.isalpha()) or rest[:1] in _QUANTIFIERS:
        return None
    if _alternates(text):
        return None
    return re.compile(f"(?-i:{first.lower()})(?:{rest})", _FLAGS)


def check_order_regex(text: str) -> str:
    """Validate a pattern for the settings models, keeping the text as written."""
    compile_order_regex(text)
    return text


def _unbounded_repeat(text: str) -> str | None:
    """The first ``*``, ``+`` or ``{n,}`` outside a character class, else None.

    A ``+`` right after another quantifier makes it possessive (``{2}+``), not
    unbounded, so it is let through.
    """
    previous = ""
    for index, char, syntax in _scan(text):
        if syntax and (char == "*" or (char == "+" and previous not in {"}", "?", "*", "+"})):
            return char
        if syntax and char == "{":
            open_range = _OPEN_RANGE.match(text, index)
            if open_range is not None:
                return open_range.group()
        previous = char
    return None


def _scan(text: str) -> Iterator[tuple[int, str, bool]]:
    """Each escape, class member and other character of a pattern with its index, and
    whether it is syntax (outside a class, not escaped)."""
    index = 0
    in_class = False
    while index < len(text):
        char = text[index]
        step = 1
        syntax = False
        if char == "\\":
            step = 2
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            # A "]" first in a class (after an optional "^") is a literal.
            step += text.startswith("^", index + 1)
            step += text.startswith("]", index + step)
        else:
            syntax = True
        yield index, char, syntax
        index += step


def _first_apart(text: str) -> str:
    """``[0-9]{3,5}rest`` as ``[0-9](?:[0-9]{2,4}rest)``; any other pattern as it is."""
    lead = _LEADING_REPEAT.match(text)
    if lead is None or int(lead.group(2)) == 0 or _alternates(text):
        return text
    atom, low, high = lead.groups()
    counts = f"{int(low) - 1}" if high is None else f"{int(low) - 1},{int(high) - 1}"
    return f"{atom}(?:{atom}{{{counts}}}{text[lead.end() :]})"


def _alternates(text: str) -> bool:
    """Whether ``text`` has a ``|`` outside every group and class (``a|b``)."""
    depth = 0
    for _, char, syntax in _scan(text):
        if syntax:
            depth += (char == "(") - (char == ")")
            if char == "|" and depth == 0:
                return True
    return False
