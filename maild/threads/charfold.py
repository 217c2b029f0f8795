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
_NUMERALS: Final = str.maketrans("〇零一二三四五六七八九", "00123456789")
# Six or more numerals in a row are a dictated number; shorter runs are words (一个, 十一).
_NUMERAL_RUN: Final = re.compile("[〇零一二三四五六七八九]{6,}")


def fold(text: str, limit: int) -> str:
    """Fold at most ``limit`` characters of ``text`` (NFKC can lengthen text, so cut twice)."""
    return _folded(text[:limit])[:limit]


@functools.lru_cache(maxsize=16)
def _folded(text: str) -> str:
    """Cached: order IDs, tags and the customer's name each fold the same message text."""
    if text.isascii():
        return text  # NFKC, the table and the numerals all leave ASCII as it is
    folded = unicodedata.normalize("NFKC", text).translate(_TABLE)
    return _NUMERAL_RUN.sub(lambda run: run.group().translate(_NUMERALS), folded)
