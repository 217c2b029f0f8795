"""Raw message bytes to a :class:`~maild.domain.ParsedMail`: pure, bounded, and lenient.

The work is split by what each tool does best and what its measured defects allow
(see ``/work/shared/DEPENDENCIES.md``):

* :mod:`maild.ingest.fields` finds the header block and extracts only the fields
  maild uses, with one regex scan, so thousands of ``Received`` headers cost a
  linear scan and never reach mail-parser;
* mail-parser (:mod:`maild.ingest.addresses`) parses From/To/Cc/Reply-To and Date
  from a header-only message;
* :mod:`maild.ingest.mime` walks the body over offsets into the raw bytes: text
  parts are decoded, attachments only measured and hashed, attached messages (bounces,
  forwards) kept out of the text.

Only input with no message in it raises :class:`~maild.errors.ParseError`; damage
anywhere else is decoded as far as it goes and reported in ``degraded_reasons``.
"""

__all__ = ["Parts", "parse", "parse_parts"]

import io
import logging
import re
from dataclasses import dataclass

from maild.domain import ParsedMail
from maild.errors import ParseError
from maild.ingest import fields, mime, payload, words
from maild.ingest.addresses import People, read_people
from maild.ingest.autoreply import LOOP_HEADER
from maild.ingest.htmltext import Html, read_html
from maild.ingest.notes import Notes
from maild.outbound.compose import TICKET_HEADER

log = logging.getLogger(__name__)

#: Header fields copied into ``ParsedMail.headers`` for later stages (auto-reply, loop and
#: list detection, marketplace relay type, bounce detection by top Content-Type).
SELECTED_HEADERS = (
    "auto-submitted",
    "x-autoreply",
    "x-autorespond",
    "precedence",
    "list-id",
    "list-unsubscribe",
    "x-amazon-mail-relay-type",
    "content-type",
    "return-path",
    "x-mailer",
    "x-loop",
    "x-failed-recipients",
    LOOP_HEADER.lower(),
    TICKET_HEADER.lower(),
)
_TOP_FIELDS = fields.FieldSet(
    (
        "from",
        "to",
        "cc",
        "reply-to",
        "subject",
        "date",
        "message-id",
        "in-reply-to",
        "references",
        "content-transfer-encoding",
        "content-disposition",
        *SELECTED_HEADERS,
    )
)
MAX_TEXT_CHARS = 1_000_000
_MAX_HEADER_CHARS = 500
# RFC 5322 caps a line at 998 octets; a longer "Message-ID" is hostile, not an identity.
_MAX_ID = 998
# Whole blank lines only: the header block must start at a line start.
_LEADING_BLANK_LINES = re.compile(rb"(?:[ \t]*\r?\n)*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ANGLE_ID = re.compile(r"<[^<>\s]+>")


@dataclass(frozen=True, slots=True)
class Parts:
    """What parsing read on the way, for a caller that reads the message further.

    ``from_start`` tells whether the header began at the first byte, which is where
    the classifier's own reader (:func:`maild.classify.mime.message_from_raw`) looks
    for it; only then do these parts match what that reader would find. ``pages`` are
    the first HTML parts read as pages when the text came from them (all of them unless
    the text filled up first), so that the classifier does not decode and read them again.
    """

    headers: dict[str, bytes]
    content: mime.Content
    from_start: bool
    people: People
    subject: str
    pages: tuple[Html, ...]


def parse(raw: bytes) -> ParsedMail:
    """Parse one message. Raises ParseError only for input that holds no message."""
    return parse_parts(raw)[0]


def parse_parts(raw: bytes) -> tuple[ParsedMail, Parts]:
    """:func:`parse`, and the header fields and MIME parts it read."""
    if not raw or raw.isspace():
        raise ParseError("empty message")
    leading = _LEADING_BLANK_LINES.match(raw)
    start = leading.end() if leading else 0
    block = fields.find_block(raw, start, len(raw), strict_end=False)
    if not fields.has_fields(raw, block):
        raise ParseError("no header fields")
    notes = Notes()
    headers = fields.read_fields(raw, block, _TOP_FIELDS, notes, part=False)
    people = read_people(headers, notes)
    content = mime.walk(raw, headers, block.body, notes)
    pages = _pages(content, notes)
    text = _text(content, pages, notes)
    subject = words.header_text(headers.get("subject", b""), "subject", notes)
    if notes.reasons:
        log.debug("degraded message reasons=%s", "; ".join(notes.reasons))
    parsed = ParsedMail(
        message_id=_message_id(headers.get("message-id")),
        subject=subject,
        from_name=people.from_name,
        from_addr=people.from_addr,
        to=people.to,
        cc=people.cc,
        reply_to=people.reply_to,
        date=people.date,
        in_reply_to=_message_id(headers.get("in-reply-to")),
        references=_references(headers.get("references")),
        text=text,
        html=bool(content.html),
        attachments=tuple(content.attachments),
        headers=_selected(headers, notes),
        degraded=bool(notes.reasons),
        degraded_reasons=tuple(notes.reasons),
        charsets=tuple(notes.charsets),
    )
    parts = Parts(headers, content, start == 0, people, subject, tuple(pages))
    return parsed, parts


def _pages(content: mime.Content, notes: Notes) -> list[Html]:
    """The HTML parts read as pages when the text comes from them, else none.

    An empty text/plain alternative next to a full HTML one (some mailers send that)
    counts as no text part.
    """
    if any(not part.isspace() and part for part in content.plain) or not content.html:
        return []
    pages: list[Html] = []
    for body, label in content.html:  # convert no more HTML than the text can hold
        if sum(len(page.text) for page in pages) >= MAX_TEXT_CHARS:
            break
        pages.append(_html_page(body, label, notes))
    return pages


def _text(content: mime.Content, pages: list[Html], notes: Notes) -> str:
    """The text/plain parts, else the text of the HTML ``pages``, newlines normalised."""
    text = "\n".join([page.text for page in pages] if pages else content.plain)
    # Most text has no CR. In the rest, the universal-newline decoder of io turns CRLF,
    # then a lone CR, into LF in one pass, in a third of the time of two replacements.
    if "\r" in text:
        text = io.IncrementalNewlineDecoder(None, translate=True).decode(text, final=True)
    if "\x00" in text:  # no database text type stores NUL
        text = text.replace("\x00", "")
        notes.degrade("body: NUL characters removed")
    if len(text) > MAX_TEXT_CHARS:
        notes.degrade(f"body: text cut at {MAX_TEXT_CHARS} characters")
        text = text[:MAX_TEXT_CHARS]
    return text


def _html_page(body: payload.Body, label: str | None, notes: Notes) -> Html:
    page = read_html(mime.text_of(body, label, "html", notes))
    if page.cut:
        notes.degrade("html: cut before conversion")
    return page


def _message_id(value: bytes | None) -> str | None:
    """The same rule as :func:`maild.ingest.identity.message_key`: the first <id>, else
    the whole value, so a parsed message and its landed row agree on identity."""
    if value is None:
        return None
    text = " ".join(value.decode("utf-8", "replace").split())
    angle = _ANGLE_ID.search(text)
    candidate = angle.group(0) if angle else text
    if not candidate or len(candidate) > _MAX_ID or _CONTROL.search(candidate):
        return None  # hostile, and no database would store a NUL in it anyway
    return candidate


def _references(value: bytes | None) -> tuple[str, ...]:
    if value is None:
        return ()
    found = _ANGLE_ID.findall(value.decode("utf-8", "replace"))
    return tuple(dict.fromkeys(r for r in found if len(r) <= _MAX_ID and not _CONTROL.search(r)))


def _selected(headers: dict[str, bytes], notes: Notes) -> dict[str, str]:
    selected: dict[str, str] = {}
    for name in SELECTED_HEADERS:
        value = headers.get(name)
        if value is not None:
            selected[name] = words.header_text(value, "header", notes)[:_MAX_HEADER_CHARS]
    return selected
