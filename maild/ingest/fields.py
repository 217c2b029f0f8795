"""Header blocks located and read straight from the raw bytes, at C speed and bounded.

Only the fields maild uses are extracted, with one regular-expression scan per
block, so a hostile message with thousands of ``Received`` (or any other) headers
costs a linear scan and nothing else: no per-header objects are built, and none of
them ever reaches mail-parser, whose cost grows steeply with ``Received`` headers.
The first occurrence of a field wins, as in mail-parser.
"""

__all__ = ["Block", "FieldSet", "find_block", "has_fields", "read_fields"]

import itertools
import re
from collections.abc import Iterator
from typing import NamedTuple

from maild.ingest.notes import Notes

# Long enough for the References of a very long thread (about 500 IDs).
MAX_FIELD_BYTES = 32 * 1024
# A MIME part's header block is a handful of lines; beyond this it is hostile.
MAX_PART_HEADER_BYTES = 64 * 1024

_BLANK = re.compile(rb"\n\r?\n")
# A run of header-looking lines (fields and their continuation lines).
_HEADER_LINES = re.compile(rb"(?:[!-9;-~]+[ \t]*:[^\n]*(?:\n|\Z)|[ \t][^\n]*(?:\n|\Z))*")
_ANY_FIELD = re.compile(rb"^[!-9;-~]+[ \t]*:", re.MULTILINE)
_LINE_END = re.compile(rb"\r?\n")


class Block(NamedTuple):
    """Where one entity's header block and body lie in the raw bytes.

    A named tuple, not a frozen dataclass: one is made for every MIME entity, and a
    frozen dataclass costs twice as much to make (each field is set through
    ``object.__setattr__``).
    """

    start: int
    end: int  # end of the header block
    body: int  # first byte of the body


class FieldSet:
    """A compiled extractor for a fixed set of lower-cased field names.

    A field starts a line, so the scan looks for line breaks: a regex that starts with
    ``\\n`` lets the engine skip straight from one to the next, where ``^`` in
    multi-line mode is tried at every byte (half the cost over a block of ``Received``
    lines). The names are grouped by first letter, so one failed letter skips a group.
    """

    __slots__ = ("_first", "_names", "_pattern")

    def __init__(self, names: tuple[str, ...]) -> None:
        by_first: dict[str, list[str]] = {}
        for name in names:
            by_first.setdefault(name[:1], []).append(name[1:])
        alternatives = b"|".join(
            re.escape(first.encode("ascii"))
            + b"(?:"
            + b"|".join(re.escape(rest.encode("ascii")) for rest in rests)
            + b")"
            for first, rests in by_first.items()
        )
        field = rb"(" + alternatives + rb")[ \t]*:[ \t]*([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)"
        self._first = re.compile(field, re.IGNORECASE)
        self._pattern = re.compile(rb"\n" + field, re.IGNORECASE)
        # The usual spellings of each name, looked up instead of decoded and lower-cased.
        self._names = {
            spelling.encode("ascii"): name
            for name in names
            for spelling in (name, name.title(), name.upper(), name.title().replace("-Id", "-ID"))
        }

    def read(self, raw: bytes, start: int, end: int, notes: Notes) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        names = self._names
        for match in self._matches(raw, start, end):
            spelled, value = match.group(1, 2)
            name = names.get(spelled) or spelled.decode("ascii").lower()
            if name in found:
                continue
            if b"\n" in value:  # unfold: every line break in the match precedes a continuation
                value = value.replace(b"\r\n", b"").replace(b"\n", b"")
            if len(value) > MAX_FIELD_BYTES:
                notes.degrade(f"header {name} cut to {MAX_FIELD_BYTES} bytes")
                value = value[:MAX_FIELD_BYTES]
            found[name] = value.strip()
        return found

    def _matches(self, raw: bytes, start: int, end: int) -> Iterator[re.Match[bytes]]:
        """The fields that start a line in ``raw[start:end]``, the first line included
        when it starts the data (any other line start follows a ``\\n``)."""
        if start:
            return self._pattern.finditer(raw, start - 1, end)
        first = self._first.match(raw, 0, end)
        if first is None:
            return self._pattern.finditer(raw, 0, end)
        return itertools.chain((first,), self._pattern.finditer(raw, first.end(), end))


def find_block(raw: bytes, start: int, end: int, *, strict_end: bool) -> Block:
    """Locate the header block that starts at ``start``.

    The block normally ends at the first empty line. A MIME part (``strict_end``)
    also ends at the first line that is not a header, as the stdlib parser does, so a
    part whose headers were lost still has its text read as the body. The top-level
    block tolerates such lines (a damaged header line must not push From and Subject
    into the body); without an empty line it starts at the first field and ends at the
    first line that is not a header.
    """
    if raw.startswith(b"\n", start) or raw.startswith(b"\r\n", start):
        return Block(start, start, raw.index(b"\n", start) + 1)
    if strict_end:
        run = _HEADER_LINES.match(raw, start, end)
        stop = run.end() if run else start
        blank = _LINE_END.match(raw, stop, end)
        return Block(start, stop, blank.end() if blank else stop)
    blank_line = _BLANK.search(raw, start, end)
    if blank_line is not None:
        return Block(start, blank_line.start() + 1, blank_line.end())
    first = _ANY_FIELD.search(raw, start, end)  # skip damaged lines before the first field
    return find_block(raw, first.start() if first else start, end, strict_end=True)


def has_fields(raw: bytes, block: Block) -> bool:
    """Whether the block holds at least one line that looks like a header field."""
    return _ANY_FIELD.search(raw, block.start, block.end) is not None


def read_fields(
    raw: bytes, block: Block, fields: FieldSet, notes: Notes, *, part: bool
) -> dict[str, bytes]:
    end = min(block.end, block.start + MAX_PART_HEADER_BYTES) if part else block.end
    return fields.read(raw, block.start, end, notes)
