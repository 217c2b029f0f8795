"""Read a draft to check from what an agent has: plain text, an HTML file or an .eml.

An .eml is decoded by the ingest parser (charsets, transfer encodings, attachments),
so a draft is read exactly as a received message would be, Subject included. Its
HTML parts are kept as HTML, because anchors and images are what the link rule must see; the plain
text is the message's text/plain parts only, so that an HTML-only message is not
checked twice (once as HTML, once as the text the parser made of it).
"""

from __future__ import annotations

__all__ = ["DraftFormat", "read_draft"]

from typing import Literal

from maild.ingest import fields, mime
from maild.ingest.notes import Notes
from maild.ingest.parse import parse
from maild.outbound.model import Attachment, Draft

DraftFormat = Literal["text", "html", "eml"]

_PART_FIELDS = fields.FieldSet(("content-type", "content-transfer-encoding", "content-disposition"))


def _eml(raw: bytes) -> Draft:
    parsed = parse(raw)  # raises ParseError for bytes that hold no message
    notes = Notes()
    block = fields.find_block(raw, 0, len(raw), strict_end=False)
    headers = fields.read_fields(raw, block, _PART_FIELDS, notes, part=False)
    content = mime.walk(raw, headers, block.body, notes)
    pages = [mime.text_of(body, label, "html", notes) for body, label in content.html]
    has_plain = any(part.strip() for part in content.plain)
    return Draft(
        text=parsed.text if has_plain or not pages else "",
        html="\n".join(pages) if pages else None,
        attachments=tuple(
            Attachment(a.filename, a.content_type, a.size) for a in parsed.attachments
        ),
        subject=parsed.subject or None,
    )


def read_draft(raw: bytes, form: DraftFormat) -> Draft:
    """The draft in ``raw``; text and HTML files are UTF-8 (invalid bytes replaced)."""
    if form == "eml":
        return _eml(raw)
    text = raw.decode("utf-8", "replace")
    return Draft("", html=text) if form == "html" else Draft(text)
