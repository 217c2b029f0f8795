"""Header values to text: RFC 2047 encoded words as mailers really write them, and raw 8-bit.

Real mail breaks RFC 2047 in a few recurring ways that the stdlib's and mail-parser's
decoders reject or decode lossily: words glued together with no space between them,
charset labels in any case, ``gb2312`` words holding GBK characters, one multibyte
character split across two adjacent words, and words inside quoted strings. Raw 8-bit
header bytes are UTF-8 (RFC 6532) or, from older Chinese mailers, GBK.
"""

__all__ = ["for_address_parser", "header_text", "text_from_str"]

import base64
import binascii
import re

from maild.ingest import charsets
from maild.ingest.notes import Notes

# Tolerant: any case, and a payload that may even contain spaces (some mailers fold inside).
_WORD = re.compile(rb"=\?([^?\s]{1,64})\?([bBqQ])\?([^?]*)\?=")
_FOLD = re.compile(rb"\r?\n(?=[ \t])")
_BREAKS = re.compile(rb"[\r\n]+")
_B64_JUNK = re.compile(rb"[^A-Za-z0-9+/]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")

Run = tuple[bytes, str | None, bool]  # (bytes, declared label, is an encoded word)


def header_text(value: bytes, where: str, notes: Notes) -> str:
    """Readable text of an unstructured header (Subject, List-Id, filenames)."""
    if b"=?" not in value and value.isascii():
        text = value.decode("ascii")
    else:
        text = "".join(_decode_run(run, where, notes) for run in _runs(_unfold(value)))
    # Whitespace runs collapsed to one space: str.split's whitespace is exactly \s.
    return " ".join(_without_controls(text).split())


def text_from_str(value: str, where: str, notes: Notes) -> str:
    """Decode encoded words left in an already-decoded string (quoted display names)."""
    return header_text(value.encode("utf-8"), where, notes) if "=?" in value else value


def for_address_parser(value: bytes, where: str, notes: Notes) -> str:
    """An address header rewritten so that mail-parser reads it right.

    Each run of encoded words becomes one ``=?utf-8?b?...?=`` word with spaces around
    it (so mail-parser's strict word matcher accepts it and no decoded comma or quote
    can change the address structure), and raw 8-bit text becomes Unicode, which
    mail-parser accepts as RFC 6532 input.
    """
    value = _unfold(value)
    if b"=?" not in value and value.isascii():
        return _without_controls(value.decode("ascii"))
    pieces: list[str] = []
    for run in _runs(value):
        text = _decode_run(run, where, notes)
        if run[2]:
            encoded = base64.b64encode(_CONTROL.sub(" ", text).encode("utf-8")).decode("ascii")
            pieces.append(f" =?utf-8?b?{encoded}?= ")
        else:
            pieces.append(_CONTROL.sub(" ", text))
    return "".join(pieces)


def _without_controls(text: str) -> str:
    """``text`` with each run of control characters made a space. Most text has none,
    and telling so (``isprintable``: no control is printable) costs a fraction of the
    substitution's scan."""
    return text if text.isprintable() else _CONTROL.sub(" ", text)


def _unfold(value: bytes) -> bytes:
    if b"\n" not in value and b"\r" not in value:
        return value  # as fields.read gives nearly every value: unfolded already
    return _BREAKS.sub(b" ", _FOLD.sub(b"", value))


def _runs(value: bytes) -> list[Run]:
    """Split into plain text and encoded words; merge adjacent words of one charset.

    Whitespace between two encoded words is not part of the text (RFC 2047 section
    6.2). Merging the bytes of neighbouring words before decoding repairs a character
    that a mailer split across two words.
    """
    runs: list[Run] = []
    pos = 0
    for match in _WORD.finditer(value):
        gap = value[pos : match.start()]
        previous_is_word = bool(runs) and runs[-1][2]
        if gap and not (previous_is_word and gap.isspace()):
            runs.append((gap, None, False))
        label = charsets.declared(match.group(1).decode("ascii", "replace"))
        data = _word_bytes(match.group(2), match.group(3))
        if runs and runs[-1][2] and runs[-1][1] == label:
            runs[-1] = (runs[-1][0] + data, label, True)
        else:
            runs.append((data, label, True))
        pos = match.end()
    if pos < len(value):
        runs.append((value[pos:], None, False))
    return runs


def _word_bytes(encoding: bytes, payload: bytes) -> bytes:
    if encoding in b"qQ":
        return binascii.a2b_qp(payload, header=True)
    clean = _B64_JUNK.sub(b"", payload.split(b"=", 1)[0])
    if len(clean) % 4 == 1:
        clean = clean[:-1]
    return binascii.a2b_base64(clean + b"=" * (-len(clean) % 4))


def _decode_run(run: Run, where: str, notes: Notes) -> str:
    data, label, is_word = run
    if not is_word and data.isascii():
        return data.decode("ascii")
    return charsets.decode(data, label, where, notes)
