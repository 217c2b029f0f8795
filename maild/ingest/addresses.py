"""From, To, Cc, Reply-To and Date through mail-parser, fed only what it handles well.

mail-parser's address scanner recovers the forms real mail uses (``addr (Name)``,
groups, quoted commas, RFC 6532 UTF-8) and its date parser is strict about what
it accepts, which is why maild uses it. It is given a header-only message holding
just these five fields, already normalised by :mod:`maild.ingest.words`, because:

* its cost grows with every ``Received`` header (0.3 ms with none, 4.5 ms with 30),
  and any other header it sees is decoded twice, into two dicts nobody reads;
* handed a body, it decodes every part again (lossily for GBK labelled gb2312) and
  keeps attachment payloads in memory;
* its encoded-word decoder skips glued words and drops GBK bytes from ``gb2312``
  words; normalised input (one ``=?utf-8?b?...?=`` word per run) avoids both.

maild calls the two functions ``MailParser`` itself reads these fields with
(``get_addresses`` and ``parse_mail_date``) rather than building a ``MailParser``:
the object also indexes every header, scans for Received headers and builds two
result dicts, which cost as much again as the addresses themselves. The plainest
forms (``addr``, ``Name <addr>``, ``"Name" <addr>``, in ASCII with no encoded word)
are read by one expression, thirty times faster and with mail-parser's own result
(a property test holds the two readers to the same answer); so is one encoded-word
name before ``<addr>``, the usual From of Chinese webmail.
"""

__all__ = ["People", "mail_date", "read_people"]

import base64
import binascii
import functools
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mailparser.dates import parse_mail_date
from mailparser.utils import get_addresses

from maild.ingest import words
from maild.ingest.notes import Notes

log = logging.getLogger(__name__)

_MAX_RECIPIENTS = 200
# mail-parser's scanner costs about 10 us per list item (measured on ";;;..."); these
# hold some 200 recipients and bound one header to a few milliseconds.
MAX_ADDRESS_BYTES = 8 * 1024
_MAX_ITEMS = 256
_ITEM_END = re.compile(rb"[,;]")
# Too short for _MAX_ITEMS separators, so never cut (see _short_mailboxes).
_CACHED_ADDRESS_BYTES = _MAX_ITEMS - 1
_MAX_DATE_BYTES = 200
_COLON_ZONE = re.compile(rb"([+-][0-9]{2}):([0-9]{2})(\s*(?:\(.*\))?\s*)$")
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
# mail-parser reads years before 1900 as invalid.
_FIRST_YEAR = 1900
# Anything this lets through that mail-parser would refuse (an hour past 23, a 31st of
# April) datetime() refuses too, and mail-parser then decides; a leap second is left to it.
_CANONICAL_DATE = re.compile(
    r"(?:(?:mon|tue|wed|thu|fri|sat|sun), )?([0-9]{1,2}) ("
    + "|".join(_MONTHS)
    + r") ([0-9]{4}) ([0-2][0-9]):([0-5][0-9]):([0-5][0-9]) ([+-])([0-9]{2})([0-9]{2})"
    r"(?: \([a-z]{1,8}\))?",
    re.ASCII | re.IGNORECASE,
)
_SEPARATORS = re.compile(r"[\s<>()\[\]\",;:\x00-\x1f\x7f]+")
_ADDRESS = re.compile(r"[^@]+@[^@.]+(?:\.[^@.]+)+")

Pair = tuple[str, str]
_ADDRESS_HEADERS = ("from", "to", "cc", "reply-to")
# RFC 5322 atext without "=" and "?" (so no atom can be an encoded word), a domain of
# LDH labels, and a quoted name of printable ASCII without quotes or backslashes.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDR_SPEC = rf"{_ATEXT}(?:\.{_ATEXT})*@{_LABEL}(?:\.{_LABEL})+"
_PLAIN_MAILBOX = re.compile(
    rf"[ \t]*(?:(?P<bare>{_ADDR_SPEC})"
    rf"|(?:(?P<atoms>{_ATEXT}(?: {_ATEXT})*)|\"(?P<quoted>[ !#-\[\]-~]*)\")"
    rf"[ \t]*<(?P<addr>{_ADDR_SPEC})>)[ \t]*"
)
# The one word words.for_address_parser makes of a run of encoded words, then <addr>.
_ENCODED_NAME_MAILBOX = re.compile(
    rf"[ \t]*=\?utf-8\?b\?(?P<name>[A-Za-z0-9+/]*={{0,2}})\?=[ \t]*<(?P<addr>{_ADDR_SPEC})>[ \t]*"
)


@dataclass(frozen=True, slots=True)
class People:
    from_name: str | None = None
    from_addr: str | None = None
    to: tuple[Pair, ...] = ()
    cc: tuple[Pair, ...] = ()
    reply_to: str | None = None
    date: datetime | None = None


def read_people(headers: dict[str, bytes], notes: Notes) -> People:
    """Addresses (lower-cased) and the date (aware, UTC) from the top-level headers."""
    date = headers.get("date")
    try:
        senders, to, cc, reply = (
            _pairs(_mailboxes(headers.get(name), name, notes), notes) for name in _ADDRESS_HEADERS
        )
        # A real date is under 60 bytes; longer is garbage and only costs time.
        # "+08:00" is common from Chinese webmail; RFC 5322 and mail-parser want "+0800".
        when = (
            None
            if date is None
            else mail_date(
                _COLON_ZONE.sub(_zone_without_colon, date[:_MAX_DATE_BYTES].strip()).decode(
                    "latin-1"
                )
            )
        )
    except Exception as exc:  # a third-party parser on hostile input; a crash here
        # must cost the addresses, not the message (which is then still threaded and read).
        log.warning("mail-parser failed on address headers error=%s", type(exc).__name__)
        notes.degrade(f"address headers unreadable ({type(exc).__name__})")
        return People()
    from_name: str | None
    from_addr: str | None
    if senders:
        from_name, from_addr = senders[0][0] or None, senders[0][1]
    else:
        from_name, from_addr = _fallback_sender(headers.get("from"), notes)
    return People(
        from_name=from_name,
        from_addr=from_addr,
        to=to,
        cc=cc,
        reply_to=reply[0][1] if reply else _fallback_address(headers.get("reply-to")),
        date=when if isinstance(when, datetime) and when.tzinfo is not None else None,
    )


def mail_date(text: str) -> datetime | None:
    """``parse_mail_date(text).value``, the usual form read at a tenth of its cost.

    Nearly every Date is written the one way RFC 5322 recommends, ``Fri, 01 Mar 2024
    08:05:06 +0000``, sometimes with the zone's name after it in a comment. That form,
    when every field is in range, is read here; any other text (folded, obsolete,
    leap second, out of range) goes to mail-parser, which decides as it always has.
    """
    match = _CANONICAL_DATE.fullmatch(text)
    if match is not None:
        day, month, year, hour, minute, second, sign, zone_hours, zone_minutes = match.groups()
        offset = int(zone_hours) * 60 + int(zone_minutes)
        try:
            value = datetime(
                int(year),
                _MONTHS[month.lower()],
                int(day),
                int(hour),
                int(minute),
                int(second),
                tzinfo=UTC,
            )
            if offset:  # most mail is sent in UTC: no shift, and none built
                value -= timedelta(minutes=-offset if sign == "-" else offset)
        except (OverflowError, ValueError):
            value = None
        if value is not None and int(year) >= _FIRST_YEAR and int(zone_minutes) < 60:
            return value
    found = parse_mail_date(text).value
    return found if isinstance(found, datetime) else None


def _mailboxes(value: bytes | None, name: str, notes: Notes) -> list[Pair]:
    """The ``(name, address)`` list ``MailParser`` gives for a header, read the same way."""
    if value is None:
        return []
    if len(value) <= _CACHED_ADDRESS_BYTES and b"=?" not in value and value.isascii():
        return list(_short_mailboxes(value))
    return _read_mailboxes(value, name, notes)


@functools.lru_cache(maxsize=64)
def _short_mailboxes(value: bytes) -> tuple[Pair, ...]:
    """A short ASCII header read once per process and then shared.

    The same header comes again and again (the shop's own address in To, a regular
    customer's From), and reading one costs a few microseconds. Such a header holds
    fewer items than :func:`_bounded` keeps and no encoded word, so reading it reports
    nothing in the notes, and the result is the same for every caller.
    """
    return tuple(_read_mailboxes(value, "", Notes()))


def _read_mailboxes(value: bytes, name: str, notes: Notes) -> list[Pair]:
    text = words.for_address_parser(_bounded(name, value, notes), name, notes)
    if "=?" not in text:
        plain = _PLAIN_MAILBOX.fullmatch(text)
        if plain is not None:
            if plain["bare"] is not None:
                return [("", plain["bare"])]
            display = plain["atoms"] if plain["atoms"] is not None else plain["quoted"]
            return [("" if display == plain["addr"] else display, plain["addr"])]
    else:
        encoded = _ENCODED_NAME_MAILBOX.fullmatch(text)
        decoded = None if encoded is None else _utf8_base64(encoded["name"])
        if encoded is not None and decoded is not None:
            return [("" if decoded == encoded["addr"] else decoded, encoded["addr"])]
    return [
        ("" if display == address else display, address)
        for display, address in get_addresses(text, defects=[], decode_names=True)
        if address
    ]


def _zone_without_colon(match: re.Match[bytes]) -> bytes:
    """``+08:00`` as ``+0800``. A function, not the template ``\\1\\2\\3``: ``sub``
    prepares a template in Python on every call, match or not (a microsecond a
    message), and calls a function only on a match."""
    return match[1] + match[2] + match[3]


def _utf8_base64(value: str) -> str | None:
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def _bounded(name: str, value: bytes, notes: Notes) -> bytes:
    """At most MAX_ADDRESS_BYTES and _MAX_ITEMS list items, cut at an item boundary."""
    if len(value) <= MAX_ADDRESS_BYTES and value.count(b",") + value.count(b";") < _MAX_ITEMS:
        return value  # nearly every header: two counts cost a fraction of the item scan
    cut = len(value) > MAX_ADDRESS_BYTES
    value = value[:MAX_ADDRESS_BYTES]
    for count, separator in enumerate(_ITEM_END.finditer(value), start=1):
        if count >= _MAX_ITEMS:
            value, cut = value[: separator.start()], True
            break
    if cut:
        notes.degrade(f"header {name} cut to {_MAX_ITEMS} items or {MAX_ADDRESS_BYTES} bytes")
    return value


def _pairs(value: list[Pair], notes: Notes) -> tuple[Pair, ...]:
    """mail-parser's ``[(name, address), ...]``, checked, decoded and lower-cased."""
    pairs: list[Pair] = []
    for item in value[:_MAX_RECIPIENTS]:
        if isinstance(item, tuple) and len(item) == 2:
            name, address = item
            if isinstance(name, str) and isinstance(address, str) and address:
                # A name in quotes keeps its encoded words in mail-parser (RFC 2047
                # forbids them there); every mail client decodes them anyway.
                pairs.append((words.text_from_str(name, "name", notes), address.lower()))
    return tuple(pairs)


def _fallback_sender(value: bytes | None, notes: Notes) -> tuple[str | None, str | None]:
    """A From that mail-parser cannot read whole (``Name <addr`` unclosed, say)."""
    if value is None:
        return None, None
    address = _fallback_address(value)
    text = words.header_text(value, "from", notes)
    if address is not None:
        text = re.sub(re.escape(address), "", text, flags=re.IGNORECASE)
    name = text.strip(" <>\"'()[]:;,@")[:200]
    return (name if any(char.isalnum() for char in name) else None), address


def _fallback_address(value: bytes | None) -> str | None:
    """The first thing shaped like ``local@domain.tld``; split first, so it stays linear."""
    if value is None:
        return None
    for token in _SEPARATORS.split(value.decode("utf-8", "replace")):
        if "@" in token and _ADDRESS.fullmatch(token):
            return token.lower()
    return None
