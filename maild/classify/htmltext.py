"""HTML body to plain text plus its links, with the standard library's tolerant parser.

Spam and phishing HTML is often malformed; ``html.parser`` never raises on bad markup,
needs no dependency, and is fast enough for the classifier's per-message budget. We
only need readable text and (href, anchor text) pairs, not layout, so a full
renderer (inscriptis, html2text) would be slower for no gain in the features.
"""

from __future__ import annotations

__all__ = ["html_to_text"]

from html.parser import HTMLParser

from maild.classify.message import Link

_SKIP = frozenset({"script", "style", "head", "title", "noscript"})
_BREAK = frozenset({"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "table", "hr"})
_MAX_LINKS = 200


class _Collector(HTMLParser):
    """Accumulates visible text and links; ignores everything it does not need."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[Link] = []
        self._skip_depth = 0
        self._href: str | None = None
        self._anchor: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip_depth += 1
        elif tag in _BREAK:
            self.parts.append("\n")
        elif tag == "a":
            self._close_anchor()
            self._href = next((v or "" for k, v in attrs if k == "href"), None)
            self._anchor = []
        elif tag == "img":
            alt = next((v or "" for k, v in attrs if k == "alt"), "")
            if alt:
                self.handle_data(alt)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag == "a":
            self._close_anchor()
        elif tag in _BREAK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        self.parts.append(data)
        if self._href is not None:
            self._anchor.append(data)

    def _close_anchor(self) -> None:
        if self._href is not None and len(self.links) < _MAX_LINKS:
            self.links.append(
                Link(href=self._href.strip(), text=" ".join("".join(self._anchor).split()))
            )
        self._href = None
        self._anchor = []


def html_to_text(html: str) -> tuple[str, tuple[Link, ...]]:
    """Return the visible text of ``html`` and its ``<a href>`` links in document order."""
    collector = _Collector()
    collector.feed(html)
    collector.close()
    collector._close_anchor()
    return "".join(collector.parts), tuple(collector.links)
