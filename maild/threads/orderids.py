"""Find the marketplace order IDs a message is about.

The order ID is what threads a conversation, so a wrong one is worse than none: it
merges two customers' conversations. Every candidate a preset's patterns find is
therefore judged before it counts:

1. the keyword nearest before it (see :mod:`maild.threads.keywords`) may reject it
   ("工单号", "Tracking:") or decide whether it is an order or a sub-order;
2. hard guards reject amounts, phone numbers, addresses and dates
   (see :mod:`maild.threads.guards`);
3. a pattern marked ``needs_keyword`` counts only after an order keyword, and soft
   guards (phone- or date-shaped values) apply when no keyword vouches.

Where: the subject, the message's own text, and named headers first. Quoted earlier
messages are read only when those name nothing: a customer answering "see below" to
a seller's message that named the order is still writing about that order, and
``OrderRefs.from_quote`` tells thread resolution that the IDs are second-hand.

Input is folded first (full-width and Chinese-numeral digits, dashes, invisible
characters) and capped, so hostile mail costs bounded time: every pattern has a
bounded width (see :mod:`maild.config.order_regex`) and every other expression here
examines a bounded number of characters per position.
"""

from __future__ import annotations

__all__ = [
    "MAX_BODY_CHARS",
    "MAX_HEADER_CHARS",
    "MAX_SUBJECT_CHARS",
    "OrderRefs",
    "SubOrder",
    "extract_order_ids",
]

import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final, Literal, NamedTuple

from maild.threads import guards
from maild.threads.charfold import fold
from maild.threads.guarded import guarded_matches
from maild.threads.keywords import lowered
from maild.threads.presets import OrderPattern, Preset
from maild.threads.quotes import split_quoted

MAX_SUBJECT_CHARS: Final = 2_000
MAX_HEADER_CHARS: Final = 2_000
# A customer's own words fit in far less; the rest of a longer text is quoted history.
MAX_BODY_CHARS: Final = 100_000


@dataclass(frozen=True, slots=True)
class SubOrder:
    """A sub-order (one package or item of an order) and its parent order, if known."""

    id: str
    parent: str | None


@dataclass(frozen=True, slots=True)
class OrderRefs:
    """The orders a message names, in order of first mention, without repeats.

    ``order_ids`` includes the parents of the sub-orders, since a message about a
    sub-order belongs to its parent's conversation.
    """

    order_ids: tuple[str, ...] = ()
    sub_orders: tuple[SubOrder, ...] = ()
    from_quote: bool = False

    @property
    def sub_order_ids(self) -> tuple[str, ...]:
        return tuple(sub.id for sub in self.sub_orders)


class _Hit(NamedTuple):
    """An accepted match; a tuple, made at a fraction of a dataclass's cost."""

    start: int
    end: int
    kind: Literal["order", "sub_order"]
    value: str
    parent: str | None


def extract_order_ids(
    subject: str, text: str, headers: Mapping[str, str], preset: Preset
) -> OrderRefs:
    """The order and sub-order IDs in a message, by ``preset``'s rules.

    ``text`` is the message's text (``ParsedMail.text``); ``headers`` maps header
    names, in any case, to decoded values. Never raises on any input.
    """
    body = split_quoted(fold(text, MAX_BODY_CHARS))
    own = [
        (fold(subject, MAX_SUBJECT_CHARS), "subject"),
        (body.own, "body"),
        *_header_texts(headers, preset),
    ]
    found = _refs(own, preset, from_quote=False)
    if found.order_ids or found.sub_orders:
        return found
    quoted = _refs([(body.quoted, "body")], preset, from_quote=True)
    return quoted if quoted.order_ids or quoted.sub_orders else found


def _header_texts(headers: Mapping[str, str], preset: Preset) -> Iterator[tuple[str, str]]:
    wanted = {name for pattern in preset.patterns for name in pattern.headers}
    for name, value in headers.items():
        if name.lower() in wanted:
            yield fold(value, MAX_HEADER_CHARS), f"header:{name.lower()}"


def _refs(places: list[tuple[str, str]], preset: Preset, *, from_quote: bool) -> OrderRefs:
    orders: dict[str, None] = {}
    named: dict[str, None] = {}  # orders named outright, not only as a sub-order's parent
    subs: dict[str, str | None] = {}
    for text, where in places:
        for hit in _hits(text, where, preset):
            if hit.kind == "order":
                orders.setdefault(hit.value)
                named.setdefault(hit.value)
            else:
                if hit.parent is not None:
                    orders.setdefault(hit.parent)
                subs.setdefault(hit.value, hit.parent)
    if preset.sub_order_parent == "only-order" and len(named) == 1:
        [only] = named
        subs = {sub: only if parent is None else parent for sub, parent in subs.items()}
    return OrderRefs(
        order_ids=tuple(orders),
        sub_orders=tuple(SubOrder(sub, parent) for sub, parent in subs.items()),
        from_quote=from_quote,
    )


def _hits(text: str, where: str, preset: Preset) -> list[_Hit]:
    """Accepted matches in one place, left to right, the longest where two overlap."""
    # Only ASCII letters lower-cased: the text a pattern's lowered bare form searches.
    ascii_lower: str | None = None
    lower: str | None = None  # for the keywords: made at the first match, as most places have none
    hits: list[_Hit] = []
    sources = 0  # patterns that gave hits: one pattern's are in order and apart already
    for pattern in preset.patterns:
        if not pattern.looks_in(where):
            continue
        if pattern.lowered_bare is None:
            matches = guarded_matches(pattern.regex, pattern.bare, text)
        else:
            if ascii_lower is None:
                ascii_lower = _ascii_lowered(text)
            matches = guarded_matches(pattern.regex, pattern.lowered_bare, text, ascii_lower)
        first = next(matches, None)
        if first is None:
            continue
        if lower is None:
            lower = ascii_lower if ascii_lower is not None and text.isascii() else lowered(text)
        count = len(hits)
        hits.extend(_judged(text, lower, itertools.chain((first,), matches), pattern, preset))
        sources += len(hits) > count
    if sources < 2:
        return hits
    hits.sort(key=lambda hit: (hit.start, -hit.end))
    kept: list[_Hit] = []
    for hit in hits:
        if not kept or hit.start >= kept[-1].end:
            kept.append(hit)
    return kept


def _ascii_lowered(text: str) -> str:
    """``text`` with its ASCII letters lower-cased and every other character kept."""
    if text.isascii():
        return text.lower()
    return text.encode("utf-8", "surrogatepass").lower().decode("utf-8", "surrogatepass")


def _judged(
    text: str,
    lower: str,
    matches: Iterator[re.Match[str]],
    pattern: OrderPattern,
    preset: Preset,
) -> Iterator[_Hit]:
    has_id = "id" in pattern.regex.groupindex
    has_parent = "parent" in pattern.regex.groupindex
    for match in matches:
        id_start, id_end = match.span("id") if has_id and match.group("id") else match.span()
        value = pattern.normalise(text[id_start:id_end])
        role = preset.keywords.nearest_role(lower, id_start, preset.keyword_window)
        if (
            not value
            or role == "other"
            or guards.touches_other_number(text, match.start(), match.end())
            or (role is None and (pattern.needs_keyword or guards.is_phone_or_date(value)))
        ):
            continue
        kind: Literal["order", "sub_order"]
        if pattern.kind == "either":
            kind = "sub_order" if role == "sub_order" else "order"
        else:
            kind = pattern.kind
        raw_parent = match.group("parent") if has_parent else None
        parent = pattern.normalise(raw_parent) if raw_parent and kind == "sub_order" else None
        yield _Hit(match.start(), match.end(), kind, value, parent)
