"""The external-link rule, and the e-mail addresses that rule finds on its way.

One pass of one regular expression over the folded text (see obfuscation.py) finds,
leftmost first and without overlaps, URLs with a scheme, ``mailto:`` links, e-mail
addresses and names that may be domains (bare, or after ``www.``); domains.py then
decides which may be sent. Addresses are found here, not by the contact rule, so
that the domain of ``bob@mail.example`` is not reported a second time as a link.
HTML anchors and images are judged from their targets, and an anchor whose text
shows one site while it leads to another says so in its hint.
"""

from __future__ import annotations

__all__ = ["check_html_links", "check_text_links"]

import re
from collections.abc import Iterator
from typing import Final

from maild.ingest.htmltext import Anchor
from maild.outbound.anycase import AnyCase
from maild.outbound.domains import check_host
from maild.outbound.model import OutboundPolicy, Part, Rule, Violation
from maild.outbound.obfuscation import EditKind, Folded, fold

# Letters of host names: ASCII, Latin, Greek and Cyrillic (where look-alikes come
# from) and full-width forms. Not CJK: Chinese text runs into names without spaces,
# and "请访问example.com" must find example.com, not one long label.
_L: Final = r"a-z0-9\u00c0-\u024f\u0370-\u03ff\u0400-\u052f\uff10-\uff19\uff21-\uff3a\uff41-\uff5a"
_LABEL: Final = rf"[{_L}](?:[{_L}-]{{0,61}}[{_L}])?"
_HOST: Final = rf"(?:{_LABEL}\.)+{_LABEL}"
_LINKS: Final = AnyCase(
    rf"""
    (?P<url>\b[a-z][a-z0-9+.-]{{1,15}}://[^\s<>"]+)
    |(?P<mailto>\bmailto:[^\s<>"]+)
    |(?P<email>(?<![{_L}._%+-])[a-z0-9._%+-]{{1,64}}@{_HOST})
    |(?P<host>(?<![{_L}@.-]){_HOST}(?![{_L}-])(?:[/?#][^\s<>"'()\[\]{{}}（）【】，]*)?)
    """,
    re.VERBOSE,
)
_TRAILING: Final = ".,;:!?'\")]}>。，；：！？）】」"
_IMG_SRC: Final = re.compile(
    r"""<img\b[^<>]{0,2000}?\ssrc\s*=\s*["']?\s*((?:[a-z]+:)?//[^"'\s<>]+)""", re.IGNORECASE
)


def _host_of(url: str) -> str:
    """The host of an absolute or scheme-relative URL; userinfo ("a.com@b.com") skipped."""
    authority = url.split("//", 1)[-1]
    for stop in "/?#\\":
        authority = authority.split(stop, 1)[0]
    host = authority.rpartition("@")[2]
    if host.startswith("["):  # an IPv6 literal
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _email_hint(address: str, policy: OutboundPolicy) -> str | None:
    domain = address.rpartition("@")[2].lower()
    if "email" in policy.allowed_contacts or policy.allows_host(domain):
        return None
    return (
        f"{address} is an e-mail address outside the marketplace, which takes the buyer off"
        " the platform; let the buyer reply through the marketplace's messages instead"
    )


def _violations(folded: Folded, policy: OutboundPolicy, part: Part) -> Iterator[Violation]:
    original = folded.original_span
    for match in _LINKS.finditer(folded.text):
        kind = match.lastgroup
        start, end = match.span()
        found = folded.text[start:end]
        if kind != "email":
            trimmed = found.rstrip(_TRAILING)
            end -= len(found) - len(trimmed)
            found = trimmed
        disguises = folded.kinds(start, end)
        span = original(start, end)
        if kind == "email":
            hint = _email_hint(found, policy)
            if hint is not None:
                yield Violation("contact-info", span, "", hint, part)
            continue
        if kind == "mailto":
            why = _mailto_hint(found, policy, disguises)
            if why is not None:
                yield Violation("external-link", span, "", why, part)
            continue
        host = _host_of(found) if kind == "url" else found.split("/", 1)[0].split("?", 1)[0]
        bare = kind == "host" and not host.lower().startswith("www.") and not disguises & {"scheme"}
        why = check_host(host, policy, bare=bare, disguises=disguises)
        if why is not None:
            yield Violation("external-link", span, "", why, part)


def check_text_links(text: str, policy: OutboundPolicy, part: Part = "text") -> list[Violation]:
    """Links and e-mail addresses in ``text`` that the mailbox may not send."""
    folded = fold(text)
    return [
        Violation(v.rule, v.span, text[v.span[0] : v.span[1]], v.hint, v.part)
        for v in _violations(folded, policy, part)
    ]


def _mailto_hint(href: str, policy: OutboundPolicy, disguises: frozenset[EditKind]) -> str | None:
    address = href[len("mailto:") :].split("?", 1)[0]
    why = check_host(address.rpartition("@")[2], policy, bare=False, disguises=disguises)
    return None if why is None else f"the link sends mail to {address}; {why}"


def _anchor(anchor: Anchor, policy: OutboundPolicy) -> tuple[Rule, str] | None:
    href = anchor.href.strip()
    scheme = href.split(":", 1)[0].lower() if ":" in href.split("/", 1)[0] else ""
    if scheme == "mailto":
        why = _mailto_hint(href, policy, frozenset())
        return None if why is None else ("external-link", why)
    if scheme in ("tel", "sms", "callto"):
        if "phone" in policy.allowed_contacts:
            return None
        return "contact-info", f"the link calls {href.split(':', 1)[1]}; remove it"
    if scheme not in ("", "http", "https", "ftp"):
        return "external-link", f"a {scheme}: link is not a web page of the marketplace; remove it"
    host = _host_of(href)
    why = check_host(host, policy, bare=False, disguises=frozenset())
    if why is None:
        return None
    shown = [
        anchor.text[m.start() : m.end()]
        for m in _LINKS.finditer(anchor.text)
        if m.lastgroup in ("url", "host")
    ]
    if shown and _host_of(shown[0]).lower() != host.lower():
        return "external-link", f"the link shows {shown[0]!r} but leads to {host}; {why}"
    return "external-link", why


def _span_in(html: str, needle: str) -> tuple[int, int]:
    for candidate in (needle, needle.replace("&", "&amp;")):
        at = html.find(candidate)
        if at >= 0:
            return at, at + len(candidate)
    return 0, 0


def check_html_links(
    html: str, anchors: tuple[Anchor, ...], policy: OutboundPolicy
) -> list[Violation]:
    """Anchors and remote images of an HTML draft that the mailbox may not send.

    Spans point into the HTML source. A ``tel:`` link is a phone number: a
    contact-info violation unless the mailbox allows phones.
    """
    found: list[Violation] = []
    for anchor in anchors:
        verdict = _anchor(anchor, policy)
        if verdict is None:
            continue
        rule, hint = verdict
        span = _span_in(html, anchor.href)
        found.append(Violation(rule, span, html[span[0] : span[1]], hint, "html"))
    for image in _IMG_SRC.finditer(html):
        why = check_host(_host_of(image.group(1)), policy, bare=False, disguises=frozenset())
        if why is not None:
            hint = f"a remote image (it tells the sender when the mail is read); {why}"
            found.append(Violation("external-link", image.span(1), image.group(1), hint, "html"))
    return found
