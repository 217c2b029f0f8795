"""Who the customer of a message is: a name to show and an address to reply to.

Marketplaces hide buyers behind relay aliases (``…@marketplace.amazon.com``), and the
display name of such a message is sometimes the buyer's ("Emma Smith - Amazon
Marketplace"), sometimes the marketplace's ("Walmart Customer Care"). So, for relay
addresses, the preset lists where else the name may be found, in order: the display
name, a labelled line ("Customer Name: …", "买家昵称：…"), the greeting (in a
seller's reply, "Hi Emma,") or the sign-off ("Thanks,\\nEmma"). Only the message's own
text is read: a quoted reply's greeting names someone else.
"""

from __future__ import annotations

__all__ = ["Customer", "identify_customer"]

import functools
import re
from dataclasses import dataclass
from typing import Final

from maild.threads.charfold import fold
from maild.threads.presets import CustomerHints, NameSource
from maild.threads.quotes import split_quoted

_MAX_TEXT: Final = 20_000
_MAX_NAME: Final = 60
_NAME: Final = re.compile(r"[^\W\d_][\w .'-]{0,58}[^\W\d_.]|[^\W\d_]")
_NOT_A_NAME: Final = re.compile(r"@|://|www\.|[0-9]")
_MAX_WORDS: Final = 4
_GREETING: Final = re.compile(
    r"(?:hi|hello|hey|dear|good (?:morning|afternoon|evening))[ \t,]+(?P<name>[^,!:;\n]{1,60}?)"
    r"[ \t]*[,!:;]?[ \t]*$"
    r"|(?P<zh>[^\s,!:;]{1,12}?)[ \t]*(?:您好|你好)[ \t,!.:;]*$"
    r"|(?:您好|你好)[ \t]*[,!.:;]?[ \t]*(?P<zh_after>[^\s,!:;]{1,12})[ \t]*[,!.:;]?[ \t]*$",
    re.IGNORECASE,
)
# A name on the closing line must follow punctuation ("Thanks, Emma"), so that
# "Thanks for your help" is not read as a name.
_CLOSING: Final = re.compile(
    r"(?:thanks(?: again| so much| a lot)?|thank you(?: so much| very much)?|many thanks"
    r"|best(?: regards| wishes)?|kind regards|warm regards|regards|sincerely|cheers"
    r"|谢谢(?:你|您)?|多谢|感谢|此致)[ \t]*(?:[,!.;:。-]{1,3}[ \t]*(?P<name>[^\n]{0,60}))?$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer as a message shows them.

    ``address`` is where a reply goes (lower-cased); ``relay`` says it is a
    marketplace alias rather than the buyer's own mailbox.
    """

    name: str | None
    address: str | None
    relay: bool


def identify_customer(
    display_name: str | None,
    address: str | None,
    reply_to: str | None,
    text: str,
    hints: CustomerHints,
) -> Customer:
    """The customer of one message.

    For a message from a customer pass its From display name and address and its
    Reply-To address; for a seller's reply, the recipient's. ``text`` is the
    message's text, quoted history included (it is cut off here).
    """
    candidates = [a.strip().lower() for a in (reply_to, address) if a and a.strip()]
    relays = [a for a in candidates if _is_relay(a, hints.relay_domains)]
    chosen = (relays or candidates)[0] if candidates else None
    display = _from_display(display_name, hints)
    if not relays:
        return Customer(display, chosen, relay=False)
    own = split_quoted(fold(text, _MAX_TEXT)).own.splitlines()
    for source in hints.name_from:
        name = _name_from(source, display, own, hints)
        if name is not None:
            return Customer(name, chosen, relay=True)
    return Customer(None, chosen, relay=True)


def _is_relay(address: str, domains: tuple[str, ...]) -> bool:
    """Whether the address's domain is a relay domain or under one: its domain and the
    parents it names (``a.b.example``, ``b.example``, ``example``) are looked up in a
    set, not compared with each of a store's twenty relay domains."""
    domain = address.rpartition("@")[2]
    relays = _domain_set(domains)
    if domain in relays:
        return True
    dot = domain.find(".")
    while dot >= 0:
        if domain[dot + 1 :] in relays:
            return True
        dot = domain.find(".", dot + 1)
    return False


@functools.lru_cache(maxsize=64)
def _domain_set(domains: tuple[str, ...]) -> frozenset[str]:
    return frozenset(domains)


def _from_display(display_name: str | None, hints: CustomerHints) -> str | None:
    if not display_name:
        return None
    name = " ".join(fold(display_name, _MAX_NAME * 4).split()).strip("\"' ")
    for suffix in hints.display_suffixes:
        name = _suffix_at_end(suffix).sub("", name)
    return _plausible(name, hints)


@functools.lru_cache(maxsize=64)
def _suffix_at_end(suffix: str) -> re.Pattern[str]:
    """A marketplace's display-name suffix ("Amazon Marketplace"), compiled once."""
    return re.compile(rf"[ (-]*{re.escape(suffix)}\)?$", re.IGNORECASE)


def _name_from(
    source: NameSource, display: str | None, lines: list[str], hints: CustomerHints
) -> str | None:
    match source:
        case "display":
            return display
        case "label":
            return _from_label(lines, hints)
        case "greeting":
            return _from_greeting(lines, hints)
        case "signoff":
            return _from_signoff(lines, hints)


def _from_label(lines: list[str], hints: CustomerHints) -> str | None:
    if not hints.name_labels:
        return None
    longest_first = sorted(hints.name_labels, key=len, reverse=True)
    labels = "|".join(re.escape(label) for label in longest_first)
    label = re.compile(rf"[ \t]{{0,8}}(?:{labels})[ \t]{{0,3}}:?[ \t]*(?P<name>.{{1,60}})$", re.I)
    for line in lines:
        found = label.match(line)
        if found is not None:
            return _plausible(found.group("name"), hints)
    return None


def _from_greeting(lines: list[str], hints: CustomerHints) -> str | None:
    first = next((line.strip() for line in lines if line.strip()), "")
    found = _GREETING.match(first)
    if found is None:
        return None
    return _plausible(found.group("name") or found.group("zh") or found.group("zh_after"), hints)


def _from_signoff(lines: list[str], hints: CustomerHints) -> str | None:
    """The name after the last closing phrase: on the same line or the next non-empty one.

    Read from the end, where the closing is, not from the start of a long message.
    """
    following: str | None = None  # the next non-empty line after the one read
    for line in reversed(lines):
        row = line.strip()
        if not row:
            continue
        closing = _CLOSING.match(row)
        if closing is not None:
            same_line = (closing.group("name") or "").strip()
            if same_line:
                return _plausible(same_line, hints)
            return _plausible(following, hints) if following is not None else None
        following = row
    return None


def _plausible(text: str, hints: CustomerHints) -> str | None:
    """The text if it can be a person's name, not a generic one, a number or an address."""
    name = " ".join(text.split()).strip(" ,.!-")
    if (
        not name
        or len(name) > _MAX_NAME
        or len(name.split()) > _MAX_WORDS
        or _NOT_A_NAME.search(name)
        or not _NAME.fullmatch(name)
        or name.lower() in _lowered(hints.generic_names)
    ):
        return None
    return name


@functools.lru_cache(maxsize=64)
def _lowered(names: tuple[str, ...]) -> frozenset[str]:
    """A preset's generic names, lower-cased once rather than for every message."""
    return frozenset(name.lower() for name in names)
