"""Readable plain text from an HTML-only message, in time linear in its size.

Marketplace notifications (Walmart, Douyin tickets) often come as HTML only: table
layouts with inline styles. An agent and the threading code need the words, in
reading order, with line breaks where blocks end; not a faithful layout, so neither
html2text nor inscriptis (an extra dependency on the ingest path) would buy anything.

The stdlib's ``html.parser`` was the first choice and is not safe here: on Python
3.11.7 it is super-linear on unclosed tags (measured: 30 KB of ``<a <a <a`` took
11.8 s, 60 KB 45 s), which one hostile message could use to stall a worker. This
scanner moves forward with ``str.find`` only, never rescans, and treats a ``<`` with
no ``>`` after it as text. Entities are decoded with :func:`html.unescape`.
"""

__all__ = ["MAX_HTML_CHARS", "html_to_text"]

import re
from html import unescape

MAX_HTML_CHARS = 1_000_000

_HIDDEN = frozenset({"script", "style", "head", "title", "noscript", "template", "svg"})
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
_ALT = re.compile(r"""\balt\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0\u200b]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class _Text:
    """Collected text. Line breaks are owed at block edges and paid before the next
    text, so nested blocks end in one break and ``<div><br></div>`` is a blank line."""

    __slots__ = ("owed", "parts")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.owed = 0

    def add(self, raw: str) -> None:
        text = _SPACES.sub(" ", unescape(raw) if "&" in raw else raw)
        if not text or (text == " " and self.owed):
            return
        if self.owed and self.parts:
            self.parts.append("\n" * self.owed)
        self.owed = 0
        self.parts.append(text)

    def tag(self, name: str, closing: bool) -> None:
        if name == "br":
            self.owed += 1
        elif name in _LINE or (name in _PARAGRAPH and not closing):
            self.owed = max(self.owed, 1)
        elif name in _PARAGRAPH:
            self.owed = max(self.owed, 2)
        elif name in _CELL and not closing:
            self.parts.append(" ")


def html_to_text(html: str) -> tuple[str, bool]:
    """The visible text of ``html``, and whether the input was cut to the cap first."""
    cut = len(html) > MAX_HTML_CHARS
    html = html[:MAX_HTML_CHARS]
    out = _Text()
    pos, next_gt = 0, -1
    while pos < len(html):
        lt = html.find("<", pos)
        if lt < 0:
            out.add(html[pos:])
            break
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
    lines = (line.strip(" ") for line in "".join(out.parts).split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip(), cut


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
        alt = _ALT.search(html, lt, gt)
        if alt:
            out.add(alt.group(1) or alt.group(2) or "")
    else:
        out.tag(name, closing)
    return gt + 1
