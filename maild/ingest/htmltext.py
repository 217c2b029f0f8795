"""Readable plain text from an HTML-only message, with the stdlib's ``html.parser``.

Marketplace notifications (Walmart, Douyin tickets) often come as HTML only: table
layouts with inline styles. An agent and the threading code need the words, in
reading order, with line breaks where blocks end. ``html.parser`` never raises on
broken markup, needs no dependency and is fast enough (this runs only when a message
has no text/plain part). html2text/inscriptis render layout more faithfully, which
buys nothing here and would add a dependency on the ingest path. Input is capped
before parsing so hostile markup costs a bounded time.
"""

__all__ = ["MAX_HTML_CHARS", "html_to_text"]

import re
from html.parser import HTMLParser

MAX_HTML_CHARS = 1_000_000

_SKIP = frozenset({"script", "style", "head", "title", "noscript", "template", "svg"})
_BLOCK = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
        "fieldset", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
        "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table",
        "tbody", "thead", "tfoot", "tr", "ul",
    }
)  # fmt: skip
_CELL = frozenset({"td", "th"})
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class _Collector(HTMLParser):
    """Visible text, with a newline at block edges and a space between table cells."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._hidden += 1
        elif tag in _BLOCK:
            self.parts.append("\n")
        elif tag in _CELL:
            self.parts.append(" ")
        elif tag == "img":
            alt = next((value for key, value in attrs if key == "alt" and value), None)
            if alt:
                self.handle_data(alt)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _SKIP:  # a self-closed <script/> hides nothing
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(_SPACES.sub(" ", data.replace("\n", " ")))


def html_to_text(html: str) -> tuple[str, bool]:
    """The visible text of ``html``, and whether the input was cut to the cap first."""
    cut = len(html) > MAX_HTML_CHARS
    collector = _Collector()
    collector.feed(html[:MAX_HTML_CHARS])
    collector.close()
    lines = (line.strip() for line in "".join(collector.parts).split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip(), cut
