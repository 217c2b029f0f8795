"""Turn a full RFC 822 message into the classifier's :class:`MessageText`.

Used for corpus records that carry ``raw`` and by ``maild classify FILE.eml``. The
message is read by the ingest parser's own pieces (header fields, MIME walk, charset
and encoded-word decoding, the linear HTML scanner), so a message is decoded the same
way for training as when it arrives, and hostile MIME or HTML costs the classifier no
more than it costs ingest. Only the Subject and the From/Reply-To domains are read
from the header; Received lines, dates, list headers and the rest are dropped on
purpose, because they identify the corpus a message came from far better than they
identify spam, and a model that learns them fails on mailboxes it has never seen.
"""

from __future__ import annotations

__all__ = ["message_from_parts", "message_from_raw"]

from collections.abc import Iterable, Iterator, Mapping, Sequence

from maild.classify.features import CJK
from maild.classify.message import Link, MessageText
from maild.ingest import fields, mime, words
from maild.ingest.addresses import People, read_people
from maild.ingest.htmltext import Html, read_html, read_links
from maild.ingest.notes import Notes
from maild.ingest.payload import Body

_FIELDS = fields.FieldSet(
    (
        "from",
        "reply-to",
        "subject",
        "content-type",
        "content-transfer-encoding",
        "content-disposition",
    )
)


def _message_bytes(raw: str) -> bytes:
    """The bytes of a message that the corpus builder already decoded to text.

    It decoded each message as UTF-8, else as CP1252 (English) or GB18030 (Chinese), so
    its 8-bit parts are text now while their labels still name the old charset. Text
    with Chinese in it goes back to GB18030: that restores the bytes of the Chinese
    corpora, and the charset decoder reads GB18030 right under a GB label, no label, or
    a UTF-8 label it does not fit (UTF-8 bytes would pass for GB18030 under a GB label
    in 67 of 11,773 TREC06c messages and read as other characters). Other text goes
    back to UTF-8, which the decoder tries first for undeclared, US-ASCII and Latin-1
    text; under rarer labels (windows-1251, ISO-8859-15) its non-ASCII letters then
    read wrong, which the Latin tokenizer does not see.
    """
    codec = "gb18030" if CJK.search(raw) else "utf-8"
    return raw.encode(codec, "replace")  # "replace" only ever meets lone surrogates


def _domain(address: str | None) -> str:
    return address.rsplit("@", 1)[1] if address and "@" in address else ""


def _kind(filename: str | None, content_type: str) -> str:
    """An attachment's extension, which is what a risky file gives away, else its type."""
    if filename and "." in filename:
        return filename.rsplit(".", 1)[1].lower() or content_type
    return content_type


def message_from_raw(raw: str | bytes) -> MessageText:
    """Parse ``raw`` and keep subject, decoded body text, links and a few header facts.

    ``raw`` is the message as received (bytes) or as the corpora store it (text, see
    :func:`_message_bytes`). A text/plain part is preferred as the body; an HTML-only
    message is converted to text. Links always come from the HTML part when there is
    one, since the plain alternative of a phishing mail usually hides the real target.
    """
    data = raw if isinstance(raw, bytes) else _message_bytes(raw)
    notes = Notes()  # what was degraded matters to ingest, not to the model
    block = fields.find_block(data, 0, len(data), strict_end=False)
    if not fields.has_fields(data, block):
        block = fields.Block(0, 0, 0)  # no header at all: every line is body
    headers = fields.read_fields(data, block, _FIELDS, notes, part=False)
    return message_from_parts(headers, mime.walk(data, headers, block.body, notes))


def message_from_parts(
    headers: Mapping[str, bytes],
    content: mime.Content,
    people: People | None = None,
    *,
    subject: str | None = None,
    pages: Sequence[Html] = (),
) -> MessageText:
    """The classifier's input from a header and MIME parts already read.

    Ingest reads a message with the same pieces (see :func:`maild.ingest.parse.parse_parts`),
    so a message maild processes is classified without being parsed a second time. The
    caller passes on what else it has read: the header's ``people``, the decoded
    ``subject``, and the first HTML parts already read as ``pages`` (parsing reads them
    when they are the text: reading one again cost 200 us for a 7 KB page, measured).
    """
    notes = Notes()
    if any(part.strip() for part in content.plain):
        body = "\n".join(content.plain)
        # The text is there already: read the HTML for its links only.
        links = [a for html in _htmls(content.html, notes) for a in read_links(html)]
    else:
        rest = (read_html(html) for html in _htmls(content.html[len(pages) :], notes))
        read = [*pages, *rest]
        body = "\n".join(page.text for page in read)
        links = [anchor for page in read for anchor in page.links]
    if people is None:
        people = read_people({k: headers[k] for k in ("from", "reply-to") if k in headers}, notes)
    if subject is None:
        subject = words.header_text(headers.get("subject", b""), "subject", notes)
    return MessageText(
        subject=subject,
        body=body,
        links=tuple(Link(a.href, a.text) for a in links),
        from_domain=_domain(people.from_addr),
        reply_to_domain=_domain(people.reply_to),
        attachment_types=tuple(_kind(a.filename, a.content_type) for a in content.attachments),
        has_html=bool(content.html),
    )


def _htmls(parts: Iterable[tuple[Body, str | None]], notes: Notes) -> Iterator[str]:
    """The decoded text of each HTML part."""
    return (mime.text_of(body, label, "html", notes) for body, label in parts)
