"""Is a host name a link the mailbox may send, and if not, how to say why.

A name is only a domain if its ending is a public suffix: tldextract decides that
from the Public Suffix List snapshot it ships, and never fetches a newer list
(``suffix_list_urls=()``, no cache directory), since maild's servers usually cannot
reach the internet. Look-alikes need no separate rule to be refused, because only
allowed names pass; what they need is a hint that says what they imitate, so the
seller sees the trap instead of "unknown domain". Unicode look-alikes are mapped to
Latin with confusable-homoglyphs, punycode is decoded with the stdlib ``idna`` codec.
"""

from __future__ import annotations

__all__ = ["SHORTENERS", "check_host"]

import functools
import unicodedata
from typing import TYPE_CHECKING, Final

from confusable_homoglyphs import confusables

from maild.outbound.model import OutboundPolicy
from maild.outbound.obfuscation import EditKind

if TYPE_CHECKING:
    import tldextract

SHORTENERS: Final = frozenset(
    {
        "bit.ly", "t.cn", "tinyurl.com", "goo.gl", "dwz.cn", "url.cn", "suo.im", "ow.ly",
        "is.gd", "buff.ly", "rebrand.ly", "cutt.ly", "t.co", "s.id", "rb.gy", "shorturl.at",
        "tiny.cc", "lnkd.in", "amzn.to", "a.co", "v.gd", "bl.ink", "short.io", "tinyurl.cn",
        "sohu.gg", "t.ly", "qr.net", "u.nu",
    }
)  # fmt: skip
# After a spoken "dot" only endings that are not everyday words count, so that
# "the red dot in the photo" is not a link to red.in.
_SPOKEN_SUFFIXES: Final = frozenset(
    {
        "com", "net", "org", "cn", "io", "info", "biz", "xyz", "top", "shop", "store", "site",
        "online", "app", "cc", "tv", "vip", "club", "link", "ly", "hk", "tw", "uk", "de", "jp",
        "ru", "co.uk", "com.cn", "net.cn", "com.hk", "ai",
    }
)  # fmt: skip
_ASCII_LOOKALIKES: Final = (("rn", "m"), ("vv", "w"), ("0", "o"), ("1", "l"))


@functools.cache
def _extract() -> tldextract.TLDExtract:
    # Imported at the first check of a link, not with maild: it brings requests, and the
    # two are 0.04 s of every start of maild, which mostly sends no draft at all.
    import tldextract

    return tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)


def _ascii(host: str) -> str | None:
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return None


def check_host(
    raw: str, policy: OutboundPolicy, *, bare: bool, disguises: frozenset[EditKind]
) -> str | None:
    """Why the host ``raw``, as found in a draft, may not be sent; None if it may (or
    if it is not a domain name at all).

    ``bare`` is a name with no scheme and no ``www.`` before it: it is a domain only
    if its ending is a public suffix written in one case ("Hello.How" is a typo, not a
    link), and after a spoken "dot" only if the ending is not an everyday word.
    """
    host = unicodedata.normalize("NFKC", raw).lower().rstrip(".")
    ascii_host = _ascii(host)
    parts = _extract()(ascii_host or host)
    if bare:
        last = raw.rsplit(".", 1)[-1]
        if not parts.suffix or not parts.domain or (last.istitle() and len(last) > 1):
            return None
        if "spoken-dot" in disguises and parts.suffix not in _SPOKEN_SUFFIXES:
            return None
    hidden = "invisible" in disguises
    if ascii_host is not None and policy.allows_host(ascii_host) and not hidden:
        return None
    return _hint(host, ascii_host, policy, disguises)


def _hint(
    host: str, ascii_host: str | None, policy: OutboundPolicy, disguises: frozenset[EditKind]
) -> str:
    registrable = _extract()(ascii_host or host).top_domain_under_public_suffix
    if "invisible" in disguises:
        why = f"invisible characters are hidden inside the name {host}"
    elif registrable in SHORTENERS:
        why = f"{registrable} is a link shortener, which hides where a link leads"
    elif (imitated := _imitates(host, policy)) is not None:
        shown = f"{host} (written {ascii_host})" if ascii_host and ascii_host != host else host
        why = f"{shown} is a look-alike of {imitated}, not the real site"
    elif host.startswith("xn--") or ".xn--" in host:
        why = f"{host} is the encoded form of {_unicode(host)!r}, a site outside the marketplace"
    elif disguises - {"scheme"}:
        why = f"this is a disguised link to {host}"
    else:
        why = f"{host} is outside the marketplace"
    return f"{why}; remove it ({_allowed(policy)})"


def _allowed(policy: OutboundPolicy) -> str:
    if not policy.allowed_domains:
        return "this mailbox allows no links"
    return "links may only go to " + ", ".join(policy.allowed_domains)


def _unicode(host: str) -> str:
    try:
        return host.encode("ascii").decode("idna")
    except UnicodeError:
        return host


def _latin(host: str) -> str:
    """``host`` with every letter that imitates a Latin one replaced by it."""
    host = _unicode(host)
    if not host.isascii():
        for found in (
            confusables.is_confusable(host, greedy=True, preferred_aliases=["latin"]) or ()
        ):
            latin = [g["c"] for g in found["homoglyphs"] if g["c"].isascii()]
            if latin:
                host = host.replace(found["character"], latin[0].lower())
    for fake, real in _ASCII_LOOKALIKES:
        host = host.replace(fake, real)
    return host


def _imitates(host: str, policy: OutboundPolicy) -> str | None:
    """The allowed domain ``host`` imitates, if any."""
    latin = _latin(host)
    for domain in policy.allowed_domains:
        skeleton = _latin(domain)
        if latin == skeleton or latin.endswith("." + skeleton):
            return domain
    return None
