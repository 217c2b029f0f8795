"""Fold the many ways an ID can be typed into one, before any pattern or keyword sees it.

Buyers paste order numbers from apps and web pages, and Chinese input methods make
full-width forms (４８７５, Ｐ, ＃, ：) as easily as ASCII. Copies pick up zero-width
spaces and soft hyphens; word processors turn hyphens into en dashes or minus signs;
voice input writes digits as Chinese numerals (四八七五…). NFKC folds the
compatibility forms; the rest is mapped here, so patterns only ever need ASCII.
"""

from __future__ import annotations

__all__ = ["fold"]

import functools
import re
import unicodedata
from typing import Final

_INVISIBLE: Final = "\u00ad\u180e\u200b\u200c\u200d\u2060\ufeff"
_DASHES: Final = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58"
_TABLE: Final = {
    **str.maketrans("", "", _INVISIBLE),
    **str.maketrans(_DASHES, "-" * len(_DASHES)),
}
_FOLDED_CHARS: Final = re.compile(f"[{_INVISIBLE}{_DASHES}]")
# The compatibility characters of everyday Chinese text: full-width ASCII (，：？！（）
# and digits), the ideographic space, full-width currency signs and the ellipsis. Each
# is replaced by its decomposition, as NFKC begins by doing; the text is then most
# often already in NFKC, and the full normalisation is left out.
_WIDE: Final = "".join(map(chr, (*range(0xFF01, 0xFF5F), *range(0xFFE0, 0xFFE7), 0x3000, 0x2026)))
_NARROW: Final = {char: unicodedata.normalize("NFKD", char) for char in _WIDE}
_NUMERAL_CHARS: Final = "〇零一二三四五六七八九"
_NUMERALS: Final = str.maketrans(_NUMERAL_CHARS, "00123456789")
# Six or more numerals in a row are a dictated number; shorter runs are words (一个, 十一).
# Written as one numeral and five or more: an expression that starts with a character
# class lets the engine skip to the places that hold one, a repeat does not (9.8 -> 4.7
# us over a Chinese text).
_NUMERAL_RUN: Final = re.compile(f"[{_NUMERAL_CHARS}][{_NUMERAL_CHARS}]{{5,}}")
# Every character that the wide map or the table changes.
_MARKED: Final = re.compile(f"[{_WIDE}{_INVISIBLE}{_DASHES}]")


def fold(text: str, limit: int) -> str:
    """Fold at most ``limit`` characters of ``text`` (NFKC can lengthen text, so cut twice)."""
    return _folded(text[:limit])[:limit]


@functools.lru_cache(maxsize=16)
def _folded(text: str) -> str:
    """Cached: order IDs, tags and the customer's name each fold the same message text.

    Each step runs only where it changes something: NFKC, and a translation through a
    table, cost some 60 ns per character of a Chinese text, a scan for what they change
    a few. Most non-ASCII mail has none of the characters folded here (a curly quote or
    a no-break space is all), so one scan lists all of them, which rules out the steps
    that substitute, whose scans cost several times more, and tells whether the table
    has anything to do after narrowing (a second scan for that cost 4 of 27 us over a
    Chinese text).
    """
    if text.isascii():
        return text  # NFKC, the table and the numerals all leave ASCII as it is
    marked = frozenset(_MARKED.findall(text))
    folded = _narrowed(text, marked)
    if not unicodedata.is_normalized("NFKC", folded):
        folded = unicodedata.normalize("NFKC", folded)
        tabled = _FOLDED_CHARS.search(folded) is not None  # NFKC makes some (U+FE58 a dash)
    else:
        tabled = not marked <= _NARROW.keys()  # the table's own, which narrowing keeps
    if tabled:
        folded = folded.translate(_TABLE)
    if any(numeral in folded for numeral in _NUMERAL_CHARS):
        folded = _NUMERAL_RUN.sub(lambda run: run.group().translate(_NUMERALS), folded)
    return folded


def _narrowed(text: str, marked: frozenset[str]) -> str:
    """``text`` with each wide character of ``marked`` (every one in it) replaced by its
    decomposition.

    One ``str.replace`` per distinct wide character present (three in a Chinese message
    of bench/ingest_stages.py, on average) rather than a callback per run of them (36):
    20 -> 9 us over a Chinese text. No decomposition holds a wide character, a dash or
    an invisible one, so the order of the replacements changes nothing, and the text
    holds characters of the table after as before.
    """
    for char in marked & _NARROW.keys():
        text = text.replace(char, _NARROW[char])
    return text
