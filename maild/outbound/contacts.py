"""The contact-info rule: phone numbers and messenger IDs that take a buyer off the platform.

Phone numbers are recognised by phonenumbers (Google's libphonenumber rules, valid
numbers only), which knows what a real number looks like in each region far better
than a pattern could, and so does not take prices, dates or most parcel numbers for
phones. It costs tens of microseconds a call, so it only sees short runs of digits
that could be a phone (seven digits or more), never a whole draft, and never a run
the marketplace's order-ID patterns match or one that a tracking or order keyword
introduces. E-mail addresses are found by links.py.
"""

from __future__ import annotations

__all__ = ["check_contacts"]

import functools
import re
from collections.abc import Iterator
from typing import Final

import phonenumbers

from maild.outbound.anycase import AnyCase
from maild.outbound.model import ContactKind, OutboundPolicy, Part, Violation

_PHONE_RUN: Final = re.compile(
    r"(?<![A-Za-z0-9+-])[+＋(]?\d[\d \-.()/\u00a0]{5,30}\d(?![A-Za-z0-9])"
)
_NOT_A_PHONE: Final = re.compile(
    r"(?:tracking|order|invoice|case|po|sku|asin|订单|单号|运单|物流|快递)"
    r"\s*(?:#|number|no\.?|id|号|编号)?\s*[:：#]?\s*$",
    re.IGNORECASE,
)
_DATE: Final = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")
_DIGITS_NEEDED: Final = 7

_ID: Final = r"[A-Za-z0-9][A-Za-z0-9_.\-]{3,30}"
# After the messenger's name: a labelled ID ("微信: abc_shop", "QQ号：12345"), or an ID
# holding a digit ("wx abc123"), so that "WeChat support" is not taken for an ID.
_ID_AFTER: Final = re.compile(
    rf"\s*(?:(?:id|号|账号|number|no\.?)?\s*[:：]\s*[@+]?{_ID}|[@+]?(?=[A-Za-z0-9_.\-]*[0-9]){_ID})",
    re.IGNORECASE,
)
# Before it: asking the buyer to use it ("add me on WeChat", "加微信").
_VERB_BEFORE: Final = re.compile(
    r"(?:(?<![A-Za-z])(?:add|contact|message|text|reach|find|call|chat\s+with|dm|ping|follow)"
    r"\s+(?:me|us)?\s*(?:on|via|at|through|in|by)?|(?:加|联系|私聊|添加)(?:一下)?(?:我们|我)?的?)\s*$",
    re.IGNORECASE,
)
# Every branch starts with a name, not an assertion, so ordinary text is skipped fast;
# _messengers() checks what an assertion would (no letter just before or after).
# "line" is an everyday word: only the brand's capitals count, or "line" before "id".
# No named groups: capturing made the scan ten times slower; _kind() tells them apart.
_MESSENGER: Final = AnyCase(
    r"we\s?chat|weixin|v信|vx|wx|微信|威信|薇信|qq|扣扣|企鹅号|whats\s?app|telegram|电报|line"
)
_KIND_BY_FIRST: Final[dict[str, ContactKind]] = {
    "v": "wechat", "微": "wechat", "威": "wechat", "薇": "wechat", "q": "qq", "扣": "qq",
    "企": "qq", "t": "telegram", "电": "telegram", "l": "line",
}  # fmt: skip


def _kind(name: str) -> ContactKind:
    """Which messenger a lower-cased name found by _MESSENGER is."""
    if name[0] == "w":
        return "whatsapp" if name.startswith("wh") else "wechat"
    return _KIND_BY_FIRST[name[0]]


_LINE_ID: Final = re.compile(r"\s*id", re.IGNORECASE)


def _is_name(text: str, start: int, end: int, kind: str) -> bool:
    if (start and text[start - 1].isascii() and text[start - 1].isalpha()) or (
        end < len(text) and text[end].isascii() and text[end].isalpha()
    ):
        return False
    return kind != "line" or text[start:end] == "LINE" or _LINE_ID.match(text, end) is not None


_HINT: Final = (
    "{what} takes the buyer off the platform, which the marketplace forbids; remove it and"
    " keep the conversation in the marketplace's messages"
)


def _protected(text: str, policy: OutboundPolicy) -> list[tuple[int, int]]:
    return [m.span() for pattern in policy.protected for m in pattern.finditer(text)]


@functools.lru_cache(maxsize=4096)
def _numbers(run: str, regions: tuple[str, ...]) -> tuple[tuple[int, str], ...]:
    """The valid phone numbers in ``run`` (offset, text), by the first region that finds
    any (no region: only numbers written with a + country code); cached, because the
    same numbers (a shop's own, a template's) come back."""
    for region in regions or ("ZZ",):
        matches = phonenumbers.PhoneNumberMatcher(run, region, phonenumbers.Leniency.VALID)
        found = tuple((match.start, match.raw_string) for match in matches)
        if found:
            return found
    return ()


def _phones(text: str, policy: OutboundPolicy, part: Part) -> Iterator[Violation]:
    protected: list[tuple[int, int]] | None = None
    for run in _PHONE_RUN.finditer(text):
        start, end = run.span()
        if sum(c.isdigit() for c in run.group()) < _DIGITS_NEEDED:
            continue
        if _DATE.fullmatch(run.group()) or _NOT_A_PHONE.search(text, max(0, start - 30), start):
            continue
        if protected is None:
            protected = _protected(text, policy)
        if any(s < end and start < e for s, e in protected):
            continue
        for offset, number in _numbers(run.group(), policy.phone_regions):
            span = (start + offset, start + offset + len(number))
            hint = _HINT.format(what=f"the phone number {number}")
            yield Violation("contact-info", span, number, hint, part)


def _messengers(text: str, policy: OutboundPolicy, part: Part) -> Iterator[Violation]:
    for name in _MESSENGER.finditer(text):
        kind = _kind(name.group())
        start, end = name.span()
        if kind in policy.allowed_contacts or not _is_name(text, start, end, kind):
            continue
        verb = _VERB_BEFORE.search(text, max(0, start - 30), start)
        if verb is not None:
            start = verb.start()
        else:
            after = _ID_AFTER.match(text, end)
            if after is None:
                continue
            end = after.end()
        hint = _HINT.format(what=f"a {kind} contact ({text[start:end]!r})")
        yield Violation("contact-info", (start, end), text[start:end], hint, part)


def check_contacts(text: str, policy: OutboundPolicy, part: Part = "text") -> list[Violation]:
    """Phone numbers and messenger IDs in ``text`` of kinds the mailbox does not allow."""
    found = list(_messengers(text, policy, part))
    if "phone" not in policy.allowed_contacts:
        found += _phones(text, policy, part)
    return found
