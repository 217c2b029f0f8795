"""Links from the linear HTML scanner: what a reader sees next to where a click goes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maild.errors import ParseError
from maild.ingest import htmltext, mime
from maild.ingest.htmltext import MAX_LINKS, Anchor, read_html, read_links
from maild.ingest.notes import Notes
from maild.ingest.parse import parse_parts
from tests.support.mailgen import make_message

DATA = Path(__file__).resolve().parents[1] / "data"


def links(html: str) -> tuple[Anchor, ...]:
    return read_html(html).links


def test_each_target_comes_with_the_text_shown_for_it() -> None:
    html = (
        "<p>Dear customer</p><a href='https://shop.example/o?id=1&amp;k=2'>your <b>order</b>\n"
        "  status</a> or <A HREF=http://198.51.100.7/pp/><img src=x alt=PayPal></A>"
        '<a href="https://evil.example/">https://www.paypal.com/</a>'
    )
    page = read_html(html)
    assert page.links == (
        Anchor("https://shop.example/o?id=1&k=2", "your order status"),
        Anchor("http://198.51.100.7/pp/", "PayPal"),
        Anchor("https://evil.example/", "https://www.paypal.com/"),
    )
    assert page.text == "Dear customer\n\nyour order status or PayPalhttps://www.paypal.com/"
    assert not page.cut


def test_entities_in_targets_and_texts_are_decoded() -> None:
    assert links('<a href="http&#58;//a.example/?q=&quot;x&quot;">caf&eacute; &#x263A;</a>') == (
        Anchor('http://a.example/?q="x"', "café ☺"),
    )


def test_relative_and_missing_targets_are_not_links() -> None:
    # A mail has no base URL: these lead nowhere, and their text must not pass for a link.
    html = (
        '<a href="/login">a</a><a href="page.html">b</a><a href="">c</a><a href="#top">d</a>'
        '<a name="top">e</a><a>f</a><a data-href="http://x.example/">g</a>'
    )
    assert links(html) == ()
    assert read_html(html).text == "abcdefg"


def test_every_followable_scheme_is_kept_as_written() -> None:
    assert links(
        "<a href=\"javascript:go('pp')\">a</a><a href='data:text/html;base64,PGgxPg=='>b</a>"
        '<a href="mailto:help@shop.example">c</a><a href="//cdn.example/x">d</a>'
        '<a href="www.shop.example">e</a>'
    ) == (
        Anchor("javascript:go('pp')", "a"),
        Anchor("data:text/html;base64,PGgxPg==", "b"),
        Anchor("mailto:help@shop.example", "c"),
        Anchor("//cdn.example/x", "d"),
        Anchor("www.shop.example", "e"),
    )


def test_targets_are_read_as_a_browser_reads_them() -> None:
    # Tabs and line breaks inside a URL are dropped, so "java\tscript:" is no disguise.
    assert links('<a href=" java&#9;script:run()\n">x</a>') == (Anchor("javascript:run()", "x"),)
    assert links('<a href="http://a.example/\n  path">x</a>') == (
        Anchor("http://a.example/  path", "x"),
    )
    # A quote left open runs to the end of the tag, as the tag itself ends at ">".
    assert links('<a href="http://a.example/x>y</a>') == (Anchor("http://a.example/x", "y"),)


def test_an_unclosed_anchor_ends_at_the_next_one_or_at_the_end() -> None:
    assert links('<a href="http://a.example">one <a href="http://b.example">two') == (
        Anchor("http://a.example", "one"),
        Anchor("http://b.example", "two"),
    )


def test_hidden_content_gives_no_text_and_no_links() -> None:
    page = read_html(
        '<script>document.write("<a href=http://ad.example>ad</a>")</script>'
        '<a href="http://a.example"><style>.x{}</style>shown</a><!-- <a href="http://c.example">'
    )
    assert page.links == (Anchor("http://a.example", "shown"),)


def test_an_unclosed_head_hides_nothing_but_its_hidden_elements() -> None:
    # Mailers leave <head> open; a browser still shows the body that follows.
    page = read_html(
        '<html><head><title>Offer</title><meta charset="utf-8">'
        '<div>Buy <a href="http://a.example">now</a></div>'
    )
    assert (page.text, page.links) == ("Buy now", (Anchor("http://a.example", "now"),))


def test_links_are_capped() -> None:
    page = read_html('<a href="http://a.example/">x</a>' * (MAX_LINKS + 50))
    assert len(page.links) == MAX_LINKS
    assert page.text == "x" * (MAX_LINKS + 50)


# Pieces that move the scanner between its states: text, entities, whitespace runs,
# blocks and cells (line breaks owed), anchors opened and closed in any order, images,
# hidden elements, comments, and markup cut short.
_PIECES = st.sampled_from(
    [
        "text", " ", "  \n ", "&amp;", "&nbsp;", "\u00a0", "<br>", "<p>", "</p>", "<div>",
        "</div>", "<td>", "</td>", "<tr>", "<b>", "</b>", "<a href='https://a.example/x'>",
        '<A HREF="http://198.51.100.7/">', "<a href=www.b.example>", "<a href='/rel'>",
        "<a>", "</a>", "<img alt=PayPal>", "<img src=x>", "<script>", "</script>",
        "<style>p{}</style>", "<!-- c -->", "<!--", "<", ">", "</", "<!DOCTYPE html>",
        "<a href='http://c.example/' title='<a href=x>'>", "<script/>", "<SCRIPT>",
        "<svg>", "</svg>", "<title>", "<abbr>", "<a1>", "<ſcript>", "<?x>", "<!x>", "<3",
        "<div title='<a href=http://d.example/>'>",
    ]
)  # fmt: skip


@settings(max_examples=500)
@given(st.lists(st.one_of(_PIECES, st.text(max_size=4)), max_size=40))
def test_links_read_alone_are_the_links_read_with_the_text(pieces: list[str]) -> None:
    html = "".join(pieces)
    assert read_links(html) == read_html(html).links


@settings(max_examples=300)
@given(st.lists(st.one_of(_PIECES, st.text(max_size=4)), max_size=40))
def test_links_read_alone_stop_at_the_cap_as_the_links_read_with_the_text(
    pieces: list[str],
) -> None:
    html = "".join(pieces)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(htmltext, "MAX_LINKS", 2)  # a cap that the pieces reach
        assert read_links(html) == read_html(html).links


def test_links_read_alone_agree_on_real_and_generated_html() -> None:
    raws = [p.read_bytes() for p in sorted((DATA / "mail").rglob("*")) if p.is_file()]
    raws += [make_message(i, seed) for i in range(40) for seed in range(2)]
    seen = 0
    for raw in raws:
        try:
            _, parts = parse_parts(raw)
        except ParseError:
            continue
        for body, label in parts.content.html:
            html = mime.text_of(body, label, "html", Notes())
            assert read_links(html) == read_html(html).links
            seen += bool(read_html(html).links)
    assert seen >= 20  # the comparison met many real links, not only empty pages
