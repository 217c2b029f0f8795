"""Shapes and surroundings that make a matching number something other than an order ID.

Two strengths. A hard guard looks at what touches the match and rejects it whatever
the keywords say: a digit run continued by a decimal point, a hyphen, a thousands
group or a date's slash is part of a bigger number; a currency sign or unit makes
it an amount; a leading ``+`` makes it an international phone number; ``@`` makes
it part of an address; a date written with separators is a date. A soft guard looks
at the value alone (a Chinese mobile or North American phone number, a YYYYMMDD
date or timestamp) and applies only when no order keyword vouches for it:
"订单号 13812345678" on a marketplace with 11-digit orders is still an order.
"""

from __future__ import annotations

__all__ = ["is_phone_or_date", "touches_other_number"]

import functools
import re
from typing import Final

# Only short digit groups continue a number across a comma (1,234,567) or a slash
# (03/23/2024, 1/2): a long one is the next ID of a list, as in "4921…475，4921…476"
# (NFKC turns the full-width comma into ",") or "113-…/114-…".
_CONTINUED_BEFORE: Final = r"(?:[0-9][.-]|(?<![0-9])[0-9]{1,3},|(?<![0-9-])[0-9]{1,4}/|@)$"
_CONTINUED_AFTER: Final = r"(?:[.-][0-9]|,[0-9]{3}(?![0-9-])|/[0-9]{1,4}(?![0-9-])|@)"
_CURRENCY_BEFORE: Final = (
    r"(?i:(?:[$¥€£₩]|(?<![A-Za-z])(?:usd|us\$|rmb|cny|eur|gbp|cad|aud))[ \t]{0,2}$)"
)
_UNIT_AFTER: Final = (
    r"(?i:[ \t]{0,2}(?:元|块|塊|美元|美金|円|(?:dollars?|usd|rmb|cny)(?![A-Za-z])))"
)
_PHONE_BEFORE: Final = r"\+(?:[0-9]{1,3}[ \t-]?)?[ \t(]{0,2}$"
# What comes before an ID and what comes after it, each tested in one call.
_OTHER_BEFORE: Final = re.compile(f"{_CONTINUED_BEFORE}|{_CURRENCY_BEFORE}|{_PHONE_BEFORE}")
_OTHER_AFTER: Final = re.compile(f"{_CONTINUED_AFTER}|{_UNIT_AFTER}")
_DAY_OR_MONTH: Final = r"(?:0?[1-9]|[12][0-9]|3[01])"
_DATE: Final = re.compile(
    rf"(?:19|20)[0-9]{{2}}[-/.](?:0?[1-9]|1[0-2])[-/.]{_DAY_OR_MONTH}"  # 2024-03-23
    rf"|{_DAY_OR_MONTH}[-/.]{_DAY_OR_MONTH}[-/.](?:19|20)?[0-9]{{2}}"  # 03/23/2024, 23.03.24
)
_PHONE_OR_DATE: Final = re.compile(
    r"(?:86)?1[3-9][0-9]{9}"  # Chinese mobile, with or without the country code
    r"|1?[2-9][0-9]{2}[2-9][0-9]{6}"  # North American number (NANP)
    r"|(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])(?:[0-9]{4}|[0-9]{6})?"
)
_REACH: Final = 8


def touches_other_number(text: str, start: int, end: int) -> bool:
    """Hard guard: whether ``text[start:end]`` is part of an amount, phone, address or date."""
    return (
        _continues(text[max(0, start - _REACH) : start], text[end : end + _REACH])
        or _DATE.fullmatch(text, start, end) is not None
    )


@functools.lru_cache(maxsize=4096)
def _continues(before: str, after: str) -> bool:
    """Whether what comes before or after an ID makes it part of an amount, a phone
    number or another number.

    Cached: the few characters around IDs repeat ("order " and " on ", "订单号：" and
    "，"), and the search before, which tries every character as a start, costs more
    than three times a cached answer.
    """
    return _OTHER_BEFORE.search(before) is not None or _OTHER_AFTER.match(after) is not None


def is_phone_or_date(value: str) -> bool:
    """Soft guard: whether a normalised ID has the shape of a phone number or a date."""
    return _PHONE_OR_DATE.fullmatch(value) is not None
