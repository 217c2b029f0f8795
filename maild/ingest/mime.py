"""The MIME tree of a message, walked iteratively over offsets into the raw bytes.

mail-parser (through the stdlib's feedparser) puts the text of an attached
``message/rfc822`` (a bounced original, a forwarded mail) into ``text_plain``, keeps
every attachment's payload in memory, builds one object per body line (about 155 MB
for a 25 MB attachment) and recurses once per nesting level. This walker splits parts
with ``bytes.find`` on the boundary, never copies a body it does not read, decodes
only the parts that become text, and only measures and hashes the others. Nesting
depth and the number of parts are capped; whatever is skipped is reported in the
notes, never silently.
"""

__all__ = ["MAX_DEPTH", "MAX_PARTS", "MAX_TEXT_BYTES", "Content", "split", "text_of", "walk"]

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from maild.domain import AttachmentInfo
from maild.ingest import charsets, fields, payload
from maild.ingest.notes import Notes
from maild.ingest.params import Param, filename, media_type, parameters

MAX_DEPTH = 16
MAX_PARTS = 500
# The text of one part that is read; the rest is cut (and reported). 2 MiB of text is
# far beyond any customer message, and keeps a hostile one cheap.
MAX_TEXT_BYTES = 2 * 1024 * 1024
_SNIFF_BYTES = 64 * 1024
_CACHED_BLOCK_BYTES = 512  # far below fields.MAX_FIELD_BYTES, so no field is ever cut

PART_FIELDS = fields.FieldSet(("content-type", "content-disposition", "content-transfer-encoding"))
_PADDING = re.compile(rb"[ \t\r]*(?:\n|\Z)")
_DELIMITER = re.compile(rb"^--([0-9A-Za-z'()+_,./:=?-]{1,70})[ \t]*\r?$", re.MULTILINE)
_META_CHARSET = re.compile(
    rb"<meta[^>]{0,300}?charset\s*=\s*[\"']?\s*([A-Za-z0-9._:-]{1,40})", re.IGNORECASE
)
_PART_HEAD = re.compile(rb"content-[a-z-]{1,40}[ \t]*:", re.IGNORECASE)


@dataclass(slots=True)
class Content:
    """The body of a message sorted by what maild does with each part."""

    plain: list[str] = field(default_factory=list)
    html: list[tuple[payload.Body, str | None]] = field(default_factory=list)
    attachments: list[AttachmentInfo] = field(default_factory=list)


class _Entity(NamedTuple):
    """One MIME entity still to sort; a named tuple as :class:`fields.Block` is."""

    headers: Mapping[str, bytes]
    start: int  # first byte of the body
    end: int
    depth: int
    default: str  # media type when Content-Type is missing


def walk(raw: bytes, headers: dict[str, bytes], body_start: int, notes: Notes) -> Content:
    """Sort every part of the message whose top-level ``headers`` were already read."""
    content = Content()
    stack = [_Entity(headers, body_start, len(raw), 0, "text/plain")]
    count = 0
    while stack:
        entity = stack.pop()
        count += 1
        if count > MAX_PARTS:
            notes.degrade(f"more than {MAX_PARTS} MIME parts, the rest ignored")
            break
        kind = media_type(entity.headers.get("content-type"), entity.default)
        if kind.startswith("multipart/"):
            children = _children(raw, entity, kind, notes)
            if children is not None:
                stack.extend(reversed(children))
                continue
            kind = "text/plain"
        _leaf(raw, entity, kind, content, notes)
    return content


def text_of(body: payload.Body, label: str | None, where: str, notes: Notes) -> str:
    """Decode one text part, reporting damage, a cut or a doubtful charset."""
    data, cut = payload.read(body, MAX_TEXT_BYTES)
    if label is None and where == "html":
        # HTML without a MIME charset usually names it in a <meta> tag.
        found = _META_CHARSET.search(data, 0, 4096)
        label = charsets.declared(found.group(1).decode("ascii")) if found else None
    if body.damaged:
        notes.degrade(f"{where}: damaged base64")
    if cut:
        notes.degrade(f"{where}: cut at {MAX_TEXT_BYTES} bytes")
    return charsets.decode(data, label, where, notes, cut=cut)


def _children(raw: bytes, entity: _Entity, kind: str, notes: Notes) -> list[_Entity] | None:
    if entity.depth >= MAX_DEPTH:
        notes.degrade(f"MIME nesting deeper than {MAX_DEPTH}, inner parts ignored")
        return []
    boundary = parameters(entity.headers.get("content-type")).get("boundary")
    ranges: list[tuple[int, int]] = []
    closed = False
    if boundary is not None and boundary.value:
        ranges, closed = split(raw, entity.start, entity.end, boundary.value)
    if not ranges:
        sniffed = _sniff(raw, entity.start, entity.end)
        if sniffed is None:
            notes.degrade("multipart without a usable boundary, read as text")
            return None
        found = "does not match" if boundary is not None else "parameter missing"
        notes.degrade(f"multipart boundary {found}, found it in the body")
        ranges, closed = split(raw, entity.start, entity.end, sniffed)
    if not closed:
        notes.degrade("closing MIME boundary missing, message may be truncated")
    default = "message/rfc822" if kind == "multipart/digest" else "text/plain"
    children = []
    for start, end in ranges:
        block = fields.find_block(raw, start, end, strict_end=True)
        headers = _part_fields(raw, block, notes)
        children.append(_Entity(headers, block.body, end, entity.depth + 1, default))
    return children


def _part_fields(raw: bytes, block: fields.Block, notes: Notes) -> Mapping[str, bytes]:
    """A part's fields; a short header block is read once per process and then shared.

    Most parts of most mail carry one of a few header blocks (``Content-Type:
    text/plain; charset=utf-8`` and a transfer encoding, byte for byte), and reading
    one costs some 3 us, a cache hit a tenth of that. No field of a block this short
    can be cut, so reading it never reports anything in ``notes``.
    """
    if block.end - block.start > _CACHED_BLOCK_BYTES:
        return fields.read_fields(raw, block, PART_FIELDS, notes, part=True)
    return _short_part_fields(raw[block.start : block.end])


@functools.lru_cache(maxsize=64)
def _short_part_fields(block: bytes) -> Mapping[str, bytes]:
    return PART_FIELDS.read(block, 0, len(block), Notes())


def split(
    raw: bytes, start: int, end: int, boundary: bytes, limit: int = MAX_PARTS
) -> tuple[list[tuple[int, int]], bool]:
    """Body ranges of the parts between ``--boundary`` lines, and whether it was closed.

    A delimiter counts only at the start of a line and followed by nothing but
    transport padding, so a longer boundary that merely starts with this one (seen in
    nested parts) is not mistaken for it. A missing closing delimiter (truncated mail)
    ends the last part at the end of the data. Past ``limit`` parts the search stops
    (reported as closed, so that only the part cap is reported).
    """
    delimiter = b"--" + boundary
    ranges: list[tuple[int, int]] = []
    part_start: int | None = None
    pos = start
    while True:
        found = raw.find(delimiter, pos, end)
        if found < 0:
            break
        after = found + len(delimiter)
        pos = after
        if found > start and raw[found - 1] not in b"\r\n":
            continue
        closing = raw.startswith(b"--", after) and after + 2 <= end
        padding = _PADDING.match(raw, after + 2 if closing else after, end)
        if padding is None:
            continue
        if part_start is not None:
            ranges.append((part_start, _line_start(raw, part_start, found)))
        if closing or len(ranges) >= limit:
            return ranges, True
        part_start = pos = padding.end()
    if part_start is not None:
        ranges.append((part_start, end))
    return ranges, False


def _line_start(raw: bytes, floor: int, delimiter: int) -> int:
    """The line break before a delimiter belongs to the delimiter (RFC 2046)."""
    end = delimiter
    if end > floor and raw[end - 1] == 0x0A:
        end -= 1
    if end > floor and raw[end - 1] == 0x0D:
        end -= 1
    return end


def _sniff(raw: bytes, start: int, end: int) -> bytes | None:
    """A boundary the body really uses, when the declared one is missing or wrong."""
    for match in _DELIMITER.finditer(raw, start, min(end, start + _SNIFF_BYTES)):
        next_line = raw.find(b"\n", match.end(), end) + 1
        if next_line and _PART_HEAD.match(raw, next_line, end):
            return match.group(1)
    return None


def _leaf(raw: bytes, entity: _Entity, kind: str, content: Content, notes: Notes) -> None:
    type_params = parameters(entity.headers.get("content-type"))
    disposition_value = entity.headers.get("content-disposition")
    disposition = (disposition_value or b"").split(b";", 1)[0].strip().lower()
    name = filename(parameters(disposition_value), type_params, notes)
    encoding = entity.headers.get("content-transfer-encoding", b"").strip().lower()
    body = payload.Body(raw, entity.start, entity.end, encoding.decode("ascii", "replace"))
    if kind in ("text/plain", "text/html") and disposition != b"attachment" and name is None:
        label = _charset(type_params.get("charset"))
        if kind == "text/plain":
            content.plain.append(text_of(body, label, "body", notes))
        else:
            content.html.append((body, label))
        return
    size, digest = payload.measure(body)
    content.attachments.append(AttachmentInfo(name, kind, size, digest))


def _charset(param: Param | None) -> str | None:
    if param is None:
        return None
    return charsets.declared(param.value.decode("ascii", "replace"))
