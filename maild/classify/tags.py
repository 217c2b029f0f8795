"""Rule tags of one message: pre-sale or after-sale, Customer Care, urgent, ticket category.

Pure and deterministic: the caller passes the message's parts, the order IDs that
:func:`maild.threads.orderids.extract_order_ids` found, and the mailbox's preset,
whose ``[tags]`` table (:mod:`maild.classify.tagrules`) holds the vocabulary. Tags
sort a queue for people, so each rule stays simple enough to explain:

* ``after-sale`` when the message names an order or sub-order, else ``pre-sale``.
* ``customer-care`` when the preset's Customer Care markers match the sender, its
  display name, the subject or a header.
* ``urgent`` when the subject or the sender's own text (not the quoted history)
  names a safety risk, an injury, a legal or regulator complaint or a payment
  dispute. A hit does not count when it sits inside an exception ("Fire TV",
  "工商银行"), when a negation closes in on it within its clause ("not a
  chargeback", "没有受伤"), or, before a purchase, in a yes/no question ("Will it
  catch fire?"), which asks about a risk rather than reporting one. Words such as
  "urgent" or "ASAP" are *not* urgent: every customer is in a hurry, while the
  marketplaces' urgent class (Douyin's 2-hour tickets) is about risk.
* ``escalated`` when the same places, read the same way, name a complaint taken
  outside the seller and the marketplace: the Better Business Bureau, an Attorney
  General or another regulator, a lawyer or court, a chargeback
  (:data:`~maild.classify.tagwords.ESCALATED_TERMS`). Such a message is also urgent;
  the SLA policies give it its own, shorter clock (Walmart: 1 hour).
* ``ticket:<category>`` for a ticket (see :class:`~maild.classify.tagrules.TicketRules`).
* Platform notices (:class:`~maild.classify.tagrules.NoticeMarkers`): a hand-off to
  the platform's own service is ``handed-off`` and ``escalated`` (taken outside the
  seller, like a complaint to a regulator; unlike one, it takes the conversation off
  the seller's clock, which ``handed-off`` tells); the platform's urgent-ticket
  marker is ``urgent``; its closing notice is ``ticket-closed``.
* ``ticket-returned`` is given to a seller's reply, not by this module: the outbox
  marks a message written from a template that returns a ticket for clarification
  (:func:`outbound_tags`).
"""

from __future__ import annotations

__all__ = [
    "AFTER_SALE",
    "CUSTOMER_CARE",
    "ESCALATED",
    "HANDED_OFF",
    "PRE_SALE",
    "TICKET_CLOSED",
    "TICKET_PREFIX",
    "TICKET_RETURNED",
    "URGENT",
    "notice_tags",
    "outbound_tags",
    "tags_for",
]

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final

from maild.classify.tagrules import CustomerCareMarkers, NoticeMarkers, TagRules
from maild.classify.tagwords import ESCALATED_TERMS, URGENT_EXCEPTIONS, URGENT_TERMS
from maild.outbound.compose import TICKET_HEADER
from maild.threads.charfold import fold
from maild.threads.orderids import OrderRefs
from maild.threads.presets import Preset
from maild.threads.quotes import split_quoted

PRE_SALE: Final = "pre-sale"
AFTER_SALE: Final = "after-sale"
CUSTOMER_CARE: Final = "customer-care"
URGENT: Final = "urgent"
ESCALATED: Final = "escalated"
TICKET_PREFIX: Final = "ticket:"
HANDED_OFF: Final = "handed-off"
TICKET_CLOSED: Final = "ticket-closed"
TICKET_RETURNED: Final = "ticket-returned"

_MAX_SUBJECT: Final = 2_000
_MAX_TEXT: Final = 20_000  # far more than anyone's own words; the rest is history
_MAX_NAME: Final = 200
_CLAUSE_CHARS: Final = 80
_ASCII_ALNUM: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")

_CLAUSE_END: Final = re.compile(r"[.,;:!?\n。、…—]")
_SENTENCE_END: Final = re.compile(r"[.!?\n。]")
_EN_WORD: Final = re.compile(r"[a-z]+(?:['’][a-z]+)?")
_EN_NEGATORS: Final = frozenset(
    {"not", "no", "never", "nobody", "none", "nothing", "without", "neither", "nor", "non"}
)
#: How close a negation must be: at most two English words, or two Chinese characters,
#: between it and the hit ("not a chargeback", "没有人受伤", but not "I will not
#: hesitate to call my lawyer" or "不处理我就投诉").
_EN_NEGATION_WORDS: Final = 3
_ZH_NEGATION_GAP: Final = 2
# "不得不起诉" (have no choice but to sue) is no negation; nor is 不锈钢 (stainless
# steel), 无法 (unable), 非常 (very).
_ZH_NEGATOR: Final = re.compile(r"(?<!不得)(?<!不能)不(?!得不|能不|锈)|没|无(?!法)|未|非(?!常)")
_EN_YES_NO: Final = re.compile(
    r"\s*(?:does|do|did|is|are|was|were|can|could|will|would|should|may|might|has|have"
    r"|if)\b"
)
_ZH_YES_NO: Final = re.compile(r"[吗么]\s*$|是否|会不会|能不能|可不可以|有没有|是不是|会否")


_WORD: Final = re.compile(r"[0-9a-z]+")
# Bytes that can be part of a Latin word ([0-9a-z], as _WORD); every other byte, each
# byte of a non-ASCII character included, separates words.
_WORD_BYTES: Final = bytes(
    byte if chr(byte).isascii() and _WORD.fullmatch(chr(byte)) else 0x20 for byte in range(256)
)


@functools.lru_cache(maxsize=16)
def _tokens(text: str, vocabulary: frozenset[str]) -> frozenset[str]:
    """The Latin words of a text that are in ``vocabulary``; cached, as every list of terms
    asks about the same few texts of one message. Split by a byte table rather than
    found by _WORD: the same words at less than half the cost. Every non-ASCII character
    becomes one "?", a separator like its UTF-8 bytes, and costs less to write (a Chinese
    text's tokens in three quarters of the time). A plural's singular is looked up as
    the plural (:class:`_Terms`) rather than added here: adding them took 16 of 37 us
    over a message's own text (bench/ingest_stages.py messages). Only the words asked
    about are kept: looked up in the vocabulary rather than all put in a set, the
    words of a message's own text cost 33 -> 28 us."""
    words = text.encode("ascii", "replace").translate(_WORD_BYTES).decode("ascii").split()
    return vocabulary.intersection(words)


@dataclass(frozen=True, slots=True)
class _Terms:
    """Words matched on folded, case-folded text, each regex run only where it can match.

    One alternation of a few hundred words with look-arounds costs Python's regex
    engine about 2 ms per message (every alternative is tried at every position).
    Instead a word runs only when the text has its longest part: as a word, for a
    Latin part (a set intersection in C), else as a substring; and only when every
    Latin part of it is a word of the text ("sue your" runs in no text without "sue",
    although "your" is in most). The parts that are no Latin word are
    found in one scan of a literal alternation, which the engine only enters at the
    characters that start one: a test of each part alone costs a pass over the
    text per part, some 50 passes over a Chinese message. The scan is left out where
    it cannot find anything, an ASCII text when every such part has other characters.
    """

    regexes: tuple[re.Pattern[str], ...] = ()
    # The Latin parts of each word: in every match, each is a word of the text or its
    # plural's singular.
    words: tuple[frozenset[str], ...] = ()
    # A Latin word -> every word whose longest part it is, or is the plural of.
    latin: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    # The keys of latin as a set: intersected with a text's words, it goes over the
    # smaller of the two, where a keys view goes over the words (1.5 -> 0.6 us for
    # the built-in urgent terms, 1.4 -> 0.2 for the escalated ones).
    latin_words: frozenset[str] = frozenset()
    other: re.Pattern[str] | None = None
    # A part the scan finds -> every word whose part is inside it: two parts that start
    # at the same place are found as the longer one.
    inside: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    ascii_other: bool = False
    # Every Latin word the terms of a preset ask about (one set for all of them, so
    # that a text is split once): the words of latin and of words, and their plurals.
    vocabulary: frozenset[str] = frozenset()

    def _candidates(self, text: str) -> list[re.Pattern[str]]:
        tokens = _tokens(text, self.vocabulary)
        found = {i for key in self.latin_words & tokens for i in self.latin[key]}
        if self.other is not None and (self.ascii_other or not text.isascii()):
            match = self.other.search(text)
            while match is not None:
                found.update(self.inside[match.group()])
                match = self.other.search(text, match.start() + 1)
        return [self.regexes[i] for i in sorted(found) if _all_in(self.words[i], tokens)]

    def spans(self, text: str) -> list[tuple[int, int]]:
        return sorted(m.span() for regex in self._candidates(text) for m in regex.finditer(text))

    def found_in(self, text: str) -> bool:
        return any(regex.search(text) for regex in self._candidates(text))


def _all_in(parts: frozenset[str], tokens: frozenset[str]) -> bool:
    """Whether each part is a word of ``tokens``, or the singular of a plural there."""
    return all(part in tokens or part + "s" in tokens for part in parts)


def _with_plurals(keys: Mapping[str, list[int]]) -> dict[str, tuple[int, ...]]:
    """``keys`` as found among a text's words: each under itself and its plural."""
    found: dict[str, set[int]] = {}
    for key, indexes in keys.items():
        for word in (key, key + "s"):
            found.setdefault(word, set()).update(indexes)
    return {word: tuple(sorted(indexes)) for word, indexes in found.items()}


def _normal(text: str, limit: int) -> str:
    return fold(text, limit).casefold()


def _fragment(word: str) -> str:
    """A word as a regex: any spacing or hyphen between its parts; a Latin or digit
    edge must not touch another letter or digit (so "sue" is not in "issue", "12315"
    not in a phone number), and a final Latin letter may take a plural "s".

    The check before a Latin first character sits after that character, so that the
    regex starts with a literal: the engine then skips to the places that hold it,
    instead of trying the look-behind at every position (ten times slower).
    """
    parts = _normal(word, 80).split()
    body = r"[\s-]{1,3}".join(re.escape(part) for part in parts)
    first, last = parts[0][0], parts[-1][-1]
    if first in _ASCII_ALNUM:
        body = first + r"(?<![0-9a-z].)" + body[1:]
    plural = "s?" if last in _ASCII_ALNUM and last.isalpha() else ""
    after = r"(?![0-9a-z])" if last in _ASCII_ALNUM else ""
    return body + plural + after


def _latin_parts(word: str) -> list[str]:
    return [part for part in _normal(word, 80).split() if _WORD.fullmatch(part)]


def _vocabulary(*lists: Iterable[str]) -> frozenset[str]:
    """The words of the text that :meth:`_Terms._candidates` looks up, for these terms."""
    parts = {part for words in lists for word in words for part in _latin_parts(word)}
    return frozenset(parts | {part + "s" for part in parts})


def _terms(words: Iterable[str], vocabulary: frozenset[str] | None = None) -> _Terms:
    """Terms for ``words``; ``vocabulary`` must hold :func:`_vocabulary` of them."""
    words = sorted({w for w in words if w.strip()})
    if vocabulary is None:
        vocabulary = _vocabulary(words)
    regexes: list[re.Pattern[str]] = []
    parts: list[frozenset[str]] = []
    latin: dict[str, list[int]] = {}
    other: dict[str, list[int]] = {}
    for index, word in enumerate(words):
        # Every part of a word is in each match of it; the longest is the rarest.
        split = _normal(word, 80).split()
        key = max(split, key=len)
        regexes.append(re.compile(_fragment(word)))
        parts.append(frozenset(_latin_parts(word)))
        (latin if _WORD.fullmatch(key) else other).setdefault(key, []).append(index)
    by_word = _with_plurals(latin)
    if not other:
        return _Terms(
            tuple(regexes), tuple(parts), by_word, frozenset(by_word), vocabulary=vocabulary
        )
    longest_first = sorted(other, key=lambda key: (-len(key), key))
    inside = {
        found: tuple(sorted(i for key in other if key in found for i in other[key]))
        for found in other
    }
    scan = re.compile("|".join(re.escape(key) for key in longest_first))
    return _Terms(
        tuple(regexes),
        tuple(parts),
        by_word,
        frozenset(by_word),
        scan,
        inside,
        ascii_other=any(key.isascii() for key in other),
        vocabulary=vocabulary,
    )


@dataclass(frozen=True, slots=True)
class _Notice:
    """A compiled :class:`NoticeMarkers`; ``never`` when it has no marker at all."""

    senders: frozenset[str]
    domains: tuple[str, ...]
    subjects: _Terms
    text: _Terms
    headers: tuple[str, ...]
    never: bool

    @classmethod
    def of(cls, markers: NoticeMarkers, vocabulary: frozenset[str]) -> _Notice:
        return cls(
            frozenset(markers.senders),
            markers.domains,
            _terms(markers.subjects, vocabulary),
            _terms(markers.text, vocabulary),
            markers.headers,
            never=not (markers.subjects or markers.text or markers.headers),
        )

    def found(
        self, title: str, own: str, headers: Mapping[str, str], from_addr: str | None
    ) -> bool:
        if self.never:
            return False
        if (self.senders or self.domains) and not _sender_in(from_addr, self.senders, self.domains):
            return False
        return (
            self.subjects.found_in(title)
            or self.text.found_in(own)
            or _header_marked(self.headers, headers)
        )


@dataclass(frozen=True, slots=True)
class _Compiled:
    urgent: _Terms
    escalated: _Terms
    exceptions: _Terms
    care: CustomerCareMarkers
    care_names: frozenset[str]
    care_subjects: _Terms
    ticket_markers: _Terms
    type_field: re.Pattern[str] | None
    categories: tuple[tuple[str, _Terms], ...]
    handoff: _Notice
    urgent_ticket: _Notice
    closed: _Notice


# Compiled rules by the identity of their TagRules, which each entry holds (so that the
# identity is not reused while it is here).
_BY_IDENTITY: Final[dict[int, tuple[TagRules, _Compiled]]] = {}
_MAX_COMPILED: Final = 32


def _compiled(rules: TagRules) -> _Compiled:
    """:func:`_compile`, looked up by identity first: a preset holds its rules for good,
    and hashing them (nested pydantic models) to look them up cost 2.3 us a message."""
    entry = _BY_IDENTITY.get(id(rules))
    if entry is None or entry[0] is not rules:
        if len(_BY_IDENTITY) >= _MAX_COMPILED:
            _BY_IDENTITY.clear()
        entry = _BY_IDENTITY[id(rules)] = (rules, _compile(rules))
    return entry[1]


@lru_cache(maxsize=_MAX_COMPILED)
def _compile(rules: TagRules) -> _Compiled:
    tickets = rules.tickets
    labels = "|".join(re.escape(_normal(label, 80)) for label in tickets.type_labels)
    type_field = (
        re.compile(rf"^[ \t]{{0,8}}(?:{labels})[ \t]{{0,3}}:?[ \t]*(?P<value>[^\n]{{1,60}})", re.M)
        if labels
        else None
    )
    urgent = (*URGENT_TERMS, *rules.urgent_terms)
    exceptions = (*URGENT_EXCEPTIONS, *rules.urgent_exceptions)
    notices = (rules.handoff, tickets.urgent, tickets.closed)
    vocabulary = _vocabulary(
        urgent,
        ESCALATED_TERMS,
        exceptions,
        rules.customer_care.subjects,
        tickets.markers,
        *(category.keywords for category in tickets.categories),
        *(notice.subjects for notice in notices),
        *(notice.text for notice in notices),
    )
    return _Compiled(
        urgent=_terms(urgent, vocabulary),
        escalated=_terms(ESCALATED_TERMS, vocabulary),
        exceptions=_terms(exceptions, vocabulary),
        care=rules.customer_care,
        care_names=frozenset(
            " ".join(_normal(n, _MAX_NAME).split()) for n in rules.customer_care.names
        ),
        care_subjects=_terms(rules.customer_care.subjects, vocabulary),
        ticket_markers=_terms(tickets.markers, vocabulary),
        type_field=type_field,
        categories=tuple((c.name, _terms(c.keywords, vocabulary)) for c in tickets.categories),
        handoff=_Notice.of(rules.handoff, vocabulary),
        urgent_ticket=_Notice.of(tickets.urgent, vocabulary),
        closed=_Notice.of(tickets.closed, vocabulary),
    )


def tags_for(
    subject: str,
    text: str,
    headers: Mapping[str, str],
    from_addr: str | None,
    orders: OrderRefs,
    preset: Preset,
    *,
    from_name: str | None = None,
) -> frozenset[str]:
    """The tags of one inbound message.

    ``text`` is the message's text, quoted history included (only the sender's own
    lines are read); ``headers`` maps header names, in any case, to decoded values;
    ``orders`` is what ``extract_order_ids`` found in the same message.
    """
    rules = _compiled(preset.tags)
    title = _normal(subject, _MAX_SUBJECT)
    own = split_quoted(fold(text, _MAX_TEXT)).own.casefold()
    after_sale = bool(orders.order_ids or orders.sub_orders)
    tags = {AFTER_SALE if after_sale else PRE_SALE}
    if _customer_care(rules, title, headers, from_addr, from_name):
        tags.add(CUSTOMER_CARE)
    for tag, terms in ((URGENT, rules.urgent), (ESCALATED, rules.escalated)):
        if any(_reported(rules, terms, place, pre_sale=not after_sale) for place in (title, own)):
            tags.add(tag)
    category = _ticket_category(rules, title, own)
    if category is not None:
        tags.add(TICKET_PREFIX + category)
    if rules.urgent_ticket.found(title, own, headers, from_addr):
        tags.add(URGENT)
    return frozenset(tags | _lifecycle_notices(rules, title, own, headers, from_addr))


def notice_tags(
    subject: str,
    text: str,
    headers: Mapping[str, str],
    from_addr: str | None,
    preset: Preset,
) -> frozenset[str]:
    """The hand-off and closing tags of a platform notice that is machine mail.

    A platform may send its notices as automatic mail (``Auto-Submitted``), which is
    never a customer message, but a hand-off or a closed ticket still changes who
    has to answer; :func:`tags_for` gives the same tags to a notice a person sent.
    """
    rules = _compiled(preset.tags)
    own = split_quoted(fold(text, _MAX_TEXT)).own.casefold()
    return _lifecycle_notices(rules, _normal(subject, _MAX_SUBJECT), own, headers, from_addr)


def _lifecycle_notices(
    rules: _Compiled, title: str, own: str, headers: Mapping[str, str], from_addr: str | None
) -> frozenset[str]:
    tags: set[str] = set()
    if rules.handoff.found(title, own, headers, from_addr):
        tags.update((HANDED_OFF, ESCALATED))
    if rules.closed.found(title, own, headers, from_addr):
        tags.add(TICKET_CLOSED)
    return frozenset(tags)


def outbound_tags(headers: Mapping[str, str]) -> frozenset[str]:
    """The tags of a seller's own message: ``ticket-returned`` when the outbox marked it."""
    value = next((v for k, v in headers.items() if k.lower() == TICKET_HEADER.lower()), "")
    return frozenset({TICKET_RETURNED}) if value.strip().lower() == "return" else frozenset()


def _customer_care(
    rules: _Compiled,
    title: str,
    headers: Mapping[str, str],
    from_addr: str | None,
    from_name: str | None,
) -> bool:
    care = rules.care
    name = " ".join(_normal(from_name or "", _MAX_NAME).split())
    return (
        _sender_in(from_addr, care.senders, care.domains)
        or (bool(name) and name in rules.care_names)
        or rules.care_subjects.found_in(title)
        or _header_marked(care.headers, headers)
    )


def _sender_in(from_addr: str | None, senders: Iterable[str], domains: Iterable[str]) -> bool:
    """Whether the sender is one of ``senders`` or in one of ``domains`` (or below it)."""
    address = (from_addr or "").strip().lower()
    domain = address.rpartition("@")[2]
    return (bool(address) and address in senders) or (
        bool(domain) and any(domain == d or domain.endswith("." + d) for d in domains)
    )


def _header_marked(markers: tuple[str, ...], headers: Mapping[str, str]) -> bool:
    if not markers:
        return False  # most presets mark nothing by a header: no need to index them
    present = {name.lower(): value for name, value in headers.items()}
    for marker in markers:
        name, _, wanted = marker.partition(":")
        value = present.get(name.strip().lower())
        if value is not None and _normal(wanted, 200).strip() in _normal(value, 2_000):
            return True
    return False


def _reported(rules: _Compiled, terms: _Terms, text: str, *, pre_sale: bool) -> bool:
    """Whether ``text`` reports one of ``terms``: not inside an exception, not negated,
    and before a purchase not asked about in a yes/no question."""
    spans = terms.spans(text)
    if not spans:
        return False
    exceptions = rules.exceptions.spans(text)
    for start, end in spans:
        if any(a <= start and end <= b for a, b in exceptions):
            continue
        if _negated(text, start) or (pre_sale and _yes_no_question(text, start, end)):
            continue
        return True
    return False


def _negated(text: str, start: int) -> bool:
    before = text[max(0, start - _CLAUSE_CHARS) : start]
    clause = _CLAUSE_END.split(before)[-1]
    words = _EN_WORD.findall(clause)[-_EN_NEGATION_WORDS:]
    if any(w in _EN_NEGATORS or w.endswith(("n't", "n’t")) for w in words):
        return True
    tail = clause.rstrip()
    return any(m.end() >= len(tail) - _ZH_NEGATION_GAP for m in _ZH_NEGATOR.finditer(tail))


def _yes_no_question(text: str, start: int, end: int) -> bool:
    """Whether the hit's sentence is a yes/no question ("Does it overheat?", "会起火吗？")."""
    begin = max((m.end() for m in _SENTENCE_END.finditer(text, 0, start)), default=0)
    stop = _SENTENCE_END.search(text, end)
    if stop is None or stop.group() != "?":
        return False
    sentence = text[begin : stop.start()]
    return bool(_EN_YES_NO.match(sentence) or _ZH_YES_NO.search(sentence))


def _ticket_category(rules: _Compiled, title: str, own: str) -> str | None:
    if not rules.categories:
        return None
    if not (rules.ticket_markers.found_in(title) or rules.ticket_markers.found_in(own)):
        return None
    fields = [m.group("value") for m in rules.type_field.finditer(own)] if rules.type_field else []
    for place in (*fields, title, own):
        for name, keywords in rules.categories:
            if keywords.found_in(place):
                return name
    return None
