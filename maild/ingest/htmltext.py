"""Readable plain text and the links of an HTML body, in time linear in its size.

Marketplace notifications (Walmart, Douyin tickets) often come as HTML only: table
layouts with inline styles. An agent and the threading code need the words, in
reading order, with line breaks where blocks end; not a faithful layout, so neither
html2text nor inscriptis (an extra dependency on the ingest path) would buy anything.
The classifier also needs each link's target next to the text a reader sees for it,
because phishing shows one address and links to another; both come from one pass, so
the classifier reads mail through this same scanner and not a second HTML parser.

The stdlib's ``html.parser`` was the first choice and is not safe here: on Python
3.11.7 it is super-linear on unclosed tags (measured: 30 KB of ``<a <a <a`` took
11.8 s, 60 KB 45 s), which one hostile message could use to stall a worker. This
scanner moves forward with ``str.find`` only, never rescans, and treats a ``<`` with
no ``>`` after it as text. Entities are decoded with :func:`html.unescape`.
"""

__all__ = [
    "MAX_HTML_CHARS",
    "MAX_LINKS",
    "Anchor",
    "Html",
    "read_html",
    "read_links",
]

import re
from dataclasses import dataclass
from html import unescape
from typing import NamedTuple

MAX_HTML_CHARS = 1_000_000
#: Links kept per body: far more than any real message has, few enough that a page
#: of ten thousand anchors cannot grow the result.
MAX_LINKS = 200

# Elements whose content is never shown. Not "head": mailers often leave it unclosed,
# and a browser ends it at the first body element anyway; what it holds that shows no
# text (title, style, script) is hidden here on its own.
_HIDDEN = frozenset({"script", "style", "title", "noscript", "template", "svg"})
# Blocks end a line; paragraphs and headings also leave a blank line after them.
_LINE = frozenset(
    {
        "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "fieldset",
        "figure", "footer", "form", "header", "hr", "li", "main", "nav", "ol", "pre",
        "section", "table", "tbody", "thead", "tfoot", "tr", "ul",
    }
)  # fmt: skip
_PARAGRAPH = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6"})
_CELL = frozenset({"td", "th"})
_HIDDEN_END = {name: re.compile(rf"</\s*{name}\s*>", re.IGNORECASE) for name in _HIDDEN}
_TAG = re.compile(r"(/?)([a-zA-Z][a-zA-Z0-9:-]{0,30})")
# A "<" that starts markup running to the next ">" (a tag, "</x", "<!x", "<?x"); any
# other "<" is text.
_MARKUP = re.compile(r"<[a-zA-Z/!?]")
# What can start or hide a link: an anchor, a hidden element or a comment. ASCII only,
# as in _TAG: under Unicode case folding "ſcript" would match "script".
_LINK_EVENT = re.compile(
    r"<(?:!--|(?:a|" + "|".join(sorted(_HIDDEN)) + r")(?![a-zA-Z0-9:-]))",
    re.IGNORECASE | re.ASCII,
)


def _attribute_pattern(name: str) -> re.Pattern[str]:
    """The first ``name`` attribute of a tag, its value quoted or not (``alt=PayPal`` is
    common in phishing). A quote left open runs to the end of the tag, so every attempt
    that reaches a value succeeds, and one search costs one pass over the tag."""
    value = r"""(?:"([^"]*)|'([^']*)|([^\s"'>]*))"""
    return re.compile(rf"""[\s"'/]{name}\s*=\s*{value}""", re.IGNORECASE)


_ALT = _attribute_pattern("alt")
_HREF = _attribute_pattern("href")
# What a mail client can follow without a base URL: a scheme ("https:", "mailto:",
# "javascript:", "data:"), a scheme-relative "//host", or the "www." that mailers and
# spammers write without one. Anything else is relative to nothing in a mail.
_ABSOLUTE = re.compile(r"[a-z][a-z0-9+.-]*:|//|www\.", re.IGNORECASE)
# Browsers strip these from anywhere in a URL, so "java\tscript:" is "javascript:". A
# pattern, not str.translate: 0.3 us a link instead of 0.9 us (measured on mailgen links).
_URL_NOISE = re.compile(r"[\t\n\r]")
_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0\u200b]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class Anchor(NamedTuple):
    """One followable ``<a href>``: its target, entities decoded, and its visible text
    with whitespace collapsed ("" for an image without alt text)."""

    href: str
    text: str


@dataclass(frozen=True, slots=True)
class Html:
    """What one HTML body holds for a reader: text, links in document order, and
    whether the input was cut to :data:`MAX_HTML_CHARS` first."""

    text: str
    links: tuple[Anchor, ...]
    cut: bool


class _Text:
    """Collected text and links. Line breaks are owed at block edges and paid before the
    next text, so nested blocks end in one break and ``<div><br></div>`` is a blank line.

    An open link remembers where its text starts in ``parts``; anchors do not nest (a
    new ``<a>`` ends the open one, as in browsers), so every part is joined into at
    most one link text and collecting them stays linear.
    """

    __slots__ = ("href", "links", "owed", "parts", "start")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.owed = 0
        self.links: list[Anchor] = []
        self.href: str | None = None
        self.start = 0

    def open_link(self, href: str | None) -> None:
        self.close_link()
        self.href, self.start = href, len(self.parts)

    def close_link(self) -> None:
        if self.href is not None and len(self.links) < MAX_LINKS:
            text = " ".join("".join(self.parts[self.start :]).split())
            self.links.append(Anchor(self.href, text))
        self.href = None

    def add(self, raw: str) -> None:
        text = _SPACES.sub(" ", unescape(raw) if "&" in raw else raw)
        if not text or (text == " " and self.owed):
            return
        if self.owed and self.parts:
            self.parts.append("\n" * self.owed)
        self.owed = 0
        self.parts.append(text)

    def skip(self, html: str, pos: int) -> int:
        """Where scanning goes on from ``pos``: here, right there, since all text counts."""
        return pos

    def tag(self, name: str, closing: bool) -> None:
        if name == "br":
            self.owed += 1
        elif name in _LINE or (name in _PARAGRAPH and not closing):
            self.owed = max(self.owed, 1)
        elif name in _PARAGRAPH:
            self.owed = max(self.owed, 2)
        elif name in _CELL and not closing:
            self.parts.append(" ")


class _LinkText(_Text):
    """Collects link texts only: text outside an open link is dropped unread.

    Outside links, collected text changes nothing but line breaks owed, and breaks become
    single spaces in a link's text, so the links come out as :class:`_Text` finds them.
    """

    __slots__ = ()

    def add(self, raw: str) -> None:
        if self.href is not None:
            super().add(raw)

    def skip(self, html: str, pos: int) -> int:
        """Outside a link, on to the next markup that can open or hide one: the text and
        tags in between would be dropped unread, and most of a page is in between. Once
        :data:`MAX_LINKS` are kept, on to the end: no link after them would be."""
        if len(self.links) >= MAX_LINKS:
            return len(html)
        return pos if self.href is not None else _next_link_event(html, pos)


def read_html(html: str) -> Html:
    """The visible text of ``html`` and its followable links (relative ones are dropped:
    a mail has no base URL to resolve them against)."""
    out = _Text()
    _scan(html[:MAX_HTML_CHARS], out)
    lines = (line.strip(" ") for line in "".join(out.parts).split("\n"))
    text = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    return Html(text, tuple(out.links), len(html) > MAX_HTML_CHARS)


def read_links(html: str) -> tuple[Anchor, ...]:
    """``read_html(html).links`` at a third of the cost, for a reader that has the
    message's text already (from its plain-text alternative) and wants only its links."""
    out = _LinkText()
    _scan(html[:MAX_HTML_CHARS], out)
    return tuple(out.links)


def _scan(html: str, out: _Text) -> None:
    """Feed ``html`` to ``out`` in document order: one loop for both readers, so the links
    of :func:`read_links` are those of :func:`read_html` by construction."""
    pos, next_gt = 0, -1
    while (pos := out.skip(html, pos)) < len(html):
        lt = html.find("<", pos)
        if lt < 0:
            out.add(html[pos:])
            break
        if lt > pos:  # most tags follow another directly: no empty text to pass on
            out.add(html[pos:lt])
        if html.startswith("<!--", lt):
            end = html.find("-->", lt + 4)
            if end < 0:
                break  # an unclosed comment hides the rest, as in a browser
            pos = end + 3
            continue
        if next_gt <= lt:
            next_gt = html.find(">", lt + 1)
        if next_gt < 0:
            out.add(html[lt:])  # no tag can close after this point: the rest is text
            break
        pos = _tag(html, lt, next_gt, out)
    out.close_link()


def _next_link_event(html: str, pos: int) -> int:
    """The next place after ``pos`` where :func:`_scan` meets an anchor, a hidden element
    or a comment, or ``len(html)`` if there is none; ``pos`` is a place it reaches.

    A match inside markup is not one: markup runs from its "<" to the first ">" after
    it, so the match at ``at`` is inside exactly when markup starts after the last ">"
    before ``at``. Every search starts where the previous one ended: linear in all.
    """
    while (found := _LINK_EVENT.search(html, pos)) is not None:
        at = found.start()
        after_gt = max(html.rfind(">", pos, at) + 1, pos)
        if _MARKUP.search(html, after_gt, at) is None:
            return at
        end = html.find(">", at)
        if end < 0:
            break  # that markup never closes: the rest is text
        pos = end + 1
    return len(html)


def _tag(html: str, lt: int, gt: int, out: _Text) -> int:
    """Handle the markup ``html[lt:gt+1]``; return where scanning goes on.

    Works on offsets and never copies the markup, so a ``<`` that is not a tag, seen
    many times before one distant ``>``, costs constant time each.
    """
    match = _TAG.match(html, lt + 1, gt)
    if match is None:  # "<!DOCTYPE", "<?xml", or a lone "<" in text
        if html[lt + 1 : lt + 2] in ("!", "?", "/"):
            return gt + 1
        out.add("<")
        return lt + 1
    closing, name = bool(match.group(1)), match.group(2).lower()
    if name in _HIDDEN and not closing and html[gt - 1] != "/":
        end = _HIDDEN_END[name].search(html, gt + 1)
        return len(html) if end is None else end.end()
    if name == "img":
        out.add(_attribute(_ALT, html, lt, gt) or "")
    elif name == "a":
        if closing:
            out.close_link()
        else:
            out.open_link(_target(html, lt, gt))
    else:
        out.tag(name, closing)
    return gt + 1


def _target(html: str, lt: int, gt: int) -> str | None:
    """The followable target of the ``<a>`` tag ``html[lt:gt]``, or None."""
    value = _attribute(_HREF, html, lt, gt)
    if value is None:
        return None
    href = _URL_NOISE.sub("", unescape(value)).strip()
    return href if _ABSOLUTE.match(href) else None


def _attribute(pattern: re.Pattern[str], html: str, lt: int, gt: int) -> str | None:
    found = pattern.search(html, lt, gt)
    return None if found is None else found.group(1) or found.group(2) or found.group(3) or ""
