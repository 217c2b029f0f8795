"""Content-Type and Content-Disposition values: media type and parameters, RFC 2231 included.

Written here rather than taken from ``email.message`` because the stdlib's parameter
splitter is quadratic in the number of semicolons inside an unclosed quote (measured:
8.8 s for one 100 KB Content-Type), and because its RFC 2231 decoding calls codecs by
the name the sender chose. This one is a single linear regular-expression scan, and
leaves charset decoding to :mod:`maild.ingest.charsets`.
"""

__all__ = ["Param", "filename", "media_type", "parameters"]

import functools
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

from maild.ingest import charsets, words
from maild.ingest.notes import Notes

_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")
_MAX_PARAMS = 64
_MAX_SEGMENTS = 64
_TYPE = re.compile(rb"[!#$%&'*+.^_`|~0-9a-z-]+/[!#$%&'*+.^_`|~0-9a-z-]+")
# The quoted value is written as runs between escapes ("unrolled"), not as one
# alternation per character: the same text, matched in about half the time.
_PARAM = re.compile(rb';[ \t]*([^\s=;"]+)[ \t]*=[ \t]*("[^"\\]*(?:\\.[^"\\]*)*"?|[^;]*)', re.DOTALL)
# The base name is greedy: it cannot hold a "*", so it ends where a lazy one would,
# without trying every shorter split first (a third of the time).
_NAME = re.compile(r"([a-z0-9._-]+)(?:\*([0-9]{1,3}))?(\*?)")
_ESCAPE = re.compile(rb"\\(.)", re.DOTALL)
_EXTENDED = re.compile(rb"([^']*)'[^']*'(.*)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter value: raw bytes, and the charset when RFC 2231 declared one."""

    value: bytes
    charset: str | None = None
    extended: bool = False


@functools.lru_cache(maxsize=64)
def media_type(value: bytes | None, default: str) -> str:
    """``maintype/subtype`` in lower case, or ``default`` when missing or malformed.

    Cached for the same reason as :func:`parameters`, and bounded the same way.
    """
    if not value:
        return default
    kind = value.split(b";", 1)[0].strip().lower()
    return kind.decode("ascii") if _TYPE.fullmatch(kind) else default


@functools.lru_cache(maxsize=64)
def parameters(value: bytes | None) -> Mapping[str, Param]:
    """Parameters by lower-cased name, RFC 2231 continuations joined.

    Cached: most parts of most mail declare the same few values (``text/plain;
    charset=utf-8``), and reading one costs some 2 us, a cache hit a few per cent of
    that. A value is a field's copy, never the message, and a field is at most
    ``fields.MAX_FIELD_BYTES`` long, so the cache stays small. The mapping is shared
    between callers, hence typed read-only.
    """
    if not value or b";" not in value:
        return {}
    plain: dict[str, Param] = {}
    pieces: dict[str, list[tuple[int, bool, bytes]]] = {}
    for count, match in enumerate(_PARAM.finditer(value)):
        if count >= _MAX_PARAMS:
            break
        name = _NAME.fullmatch(match.group(1).decode("ascii", "replace").lower())
        if name is None:
            continue
        base, index, star = name.groups()
        raw = _unquote(match.group(2).strip())
        if index is None and not star:
            plain.setdefault(base, Param(raw))
        else:
            pieces.setdefault(base, []).append((int(index or 0), bool(star), raw))
    for base, segments in pieces.items():
        plain[base] = _join(segments)
    return plain


def filename(
    disposition: Mapping[str, Param], content_type: Mapping[str, Param], notes: Notes
) -> str | None:
    """The attachment's name: Content-Disposition filename, else Content-Type name."""
    param = disposition.get("filename") or content_type.get("name")
    if param is None:
        return None
    if param.extended:
        text = charsets.decode(param.value, param.charset, "filename", notes)
        text = words.text_from_str(text, "filename", notes)
    else:
        text = words.header_text(param.value, "filename", notes)
    # Control characters (NUL above all) have no place in a name shown to people or
    # stored in a database; they become spaces and collapse with the rest.
    return " ".join(_CONTROLS.sub(" ", text).split())[:255] or None


def _unquote(raw: bytes) -> bytes:
    if raw.startswith(b'"'):
        raw = raw[1:-1] if raw.endswith(b'"') and len(raw) > 1 else raw[1:]
        # Nearly every quoted value (a boundary, a file name) has no escape in it.
        return _ESCAPE.sub(rb"\1", raw) if b"\\" in raw else raw
    return raw


def _join(segments: list[tuple[int, bool, bytes]]) -> Param:
    """RFC 2231: ``name*0*=utf-8''%E4%B8%AD; name*1*=%E6%96%87`` to one value."""
    segments = sorted(segments[:_MAX_SEGMENTS], key=lambda segment: segment[0])
    charset: str | None = None
    parts: list[bytes] = []
    for position, (_index, extended, raw) in enumerate(segments):
        data = raw
        if extended and position == 0:
            head = _EXTENDED.fullmatch(raw)
            if head is not None:
                charset = charsets.declared(head.group(1).decode("ascii", "replace"))
                data = head.group(2)
        if extended:
            data = urllib.parse.unquote_to_bytes(data)
        parts.append(data)
    return Param(b"".join(parts), charset, extended=True)
