"""The marketing rule: promotion and review incentives, in English and Chinese.

The built-in phrases are the ones the marketplaces' seller rules name (coupons,
discount pushes, "follow our store", a good review for cash back, 好评返现, 关注店铺,
优惠券, 加微信领红包); a mailbox adds its own in ``marketing_phrases``. Asking for a
*positive* review is refused too, with or without a reward ("please leave us a
positive review", "rate us 5 stars", 给个好评, 求好评): a review invitation must leave
the verdict to the buyer. Words that also fit an honest reply ("refund", "discount"
alone, "review" alone, "thank you for your positive feedback") are not on the list:
only the promotional turn of phrase, or the ask, is. English phrases match whole words in
any case with any spacing; Chinese ones match anywhere. All of them go into one
regular expression, compiled once per list of extra phrases.
"""

from __future__ import annotations

__all__ = ["BUILTIN_PHRASES", "check_marketing"]

import functools
import re
from typing import Final

from maild.outbound.model import OutboundPolicy, Part, Violation

_GET: Final = (
    r"(?:for|and\s+get|to\s+get|in\s+exchange\s+for)\s+(?:an?\s+|your\s+)?(?:full\s+|partial\s+)?"
)
_AFTER: Final = r"(?:for|after|in\s+exchange\s+for)\s+(?:an?\s+|your\s+)?"
_REVIEW: Final = (
    r"(?:positive|good|great|5[- ]?star|five[- ]?star|honest)\s+(?:review|feedback|rating)s?"
)
_ASK: Final = (
    r"(?:leave|give|write|post|submit|share|consider\s+leaving)\s+(?:us\s+|me\s+)?(?:an?\s+)?"
)
_FAVOURABLE: Final = (
    r"(?:positive|good|great|glowing|favou?rable|excellent|5[- ]?star|five[- ]?star)"
)
_REWARD: Final = (
    r"(?:refund|cash\s*back|rebate|reward|gift(?:\s*card)?|discount|coupon|voucher|free)"
)
# (triggers, pattern): a pattern is only run on a draft whose lower-cased text contains
# one of its triggers ("|" between them), so that a clean draft costs a few substring
# searches, not a regex pass per phrase. Patterns, not plain phrases: the English
# ones vary in small words.
BUILTIN_PHRASES: Final[tuple[tuple[str, str], ...]] = (
    ("coupon", r"coupons?"), ("promo", r"promo(?:tion(?:al)?)?\s+codes?"),
    ("code", r"(?:discount|voucher)\s+codes?|use\s+(?:the\s+)?code"), ("%", r"\d{1,2}\s*%\s*off"),
    ("discount", r"(?:special|exclusive|extra)\s+discounts?|discount\s+on\s+your\s+next"),
    ("offer", r"limited[- ]time\s+offer"), ("sale", r"flash\s+sale"),
    ("buy one", r"buy\s+one\s+get\s+one"), ("bogo", r"bogo"), ("free gift", r"free\s+gift"),
    ("arrival", r"new\s+arrivals?"), ("follow", r"follow\s+(?:our|my)\s+(?:store|shop|page)"),
    ("subscribe", r"subscribe\s+to\s+our"), ("visit our", r"visit\s+our\s+(?:store|shop)\s+for"),
    ("check out our", r"check\s+out\s+our\s+other\s+products"),
    ("review|feedback|rating", rf"{_REVIEW}\s+{_GET}{_REWARD}"),
    # "cash back for a 5-star review", "a gift card is yours after a good review"
    ("review|feedback|rating", rf"{_REWARD}(?:\s+\w+){{0,4}}?\s+{_AFTER}{_REVIEW}"),
    ("star", r"(?:leave|give|write)\s+(?:us\s+)?(?:a\s+)?(?:5[- ]?star|five[- ]?star)"),
    ("review|feedback|rating", rf"{_ASK}{_FAVOURABLE}\s+(?:review|feedback|rating)s?"),
    ("rate", r"rate\s+(?:us|the\s+(?:item|product|order))\s+(?:5|five)\s+stars?"),
    *((phrase, re.escape(phrase)) for phrase in (
        "好评返现", "好评有礼", "晒图返现", "五星好评", "返现", "红包", "优惠券", "优惠码",
        "折扣码", "打折", "满减", "限时优惠", "秒杀", "关注店铺", "关注我们", "收藏店铺",
        "收藏本店",
        "加微信领", "下单立减", "新品上市", "促销", "大促", "拼团", "领券",
        # Asking for a good review, rewarded or not.
        "好评送", "好评有奖", "晒图有礼", "求好评", "给个好评", "给好评", "留个好评", "帮忙好评",
        "给五星", "给个五星", "全五星", "5星好评", "满分好评",
    )),
)  # fmt: skip


def _bounded(body: str, phrase: str) -> str:
    """Whole words for English: "coupon" is not found inside "recouponing"."""
    return rf"(?<!\w)(?:{body})(?!\w)" if phrase[:1].isascii() and phrase[-1:].isascii() else body


@functools.lru_cache(maxsize=64)
def _compiled(extra: tuple[str, ...]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Each trigger with one expression of every pattern it guards."""
    grouped: dict[str, list[str]] = {}
    for trigger, pattern in BUILTIN_PHRASES:
        grouped.setdefault(trigger, []).append(_bounded(pattern, trigger))
    for phrase in extra:
        words = phrase.lower().split()
        body = r"\s+".join(map(re.escape, words))
        grouped.setdefault(words[0], []).append(_bounded(body, phrase))
    return tuple(
        (trigger, re.compile("|".join(patterns), re.IGNORECASE))
        for trigger, patterns in grouped.items()
    )


def check_marketing(text: str, policy: OutboundPolicy, part: Part = "text") -> list[Violation]:
    """Promotional phrases in ``text``; where phrases overlap, the first and longest."""
    lowered = text.lower()
    spans = sorted(
        (match.start(), -match.end())
        for trigger, pattern in _compiled(policy.marketing_phrases)
        if any(word in lowered for word in trigger.split("|"))
        for match in pattern.finditer(text)
    )
    found: list[Violation] = []
    for start, negative_end in spans:
        end = -negative_end
        if found and start < found[-1].span[1]:
            continue
        phrase = text[start:end]
        hint = (
            f"{phrase!r} is promotion, a review incentive or a request for a positive"
            " review, which the marketplace forbids in buyer messages; remove it (a review"
            " invitation may only ask for the buyer's own, honest opinion)"
        )
        found.append(Violation("marketing", (start, end), phrase, hint, part))
    return found
