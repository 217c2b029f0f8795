"""Folder names on the IMAP wire: modified UTF-7 (RFC 3501 5.1.3), quoted.

Chinese sellers name folders in Chinese ("已发送"); sending those raw, or an
unquoted name with a space, would select the wrong folder or none.
"""

__all__ = ["ListedFolder", "parse_list_line", "quote_mailbox", "utf7_decode", "utf7_encode"]

import base64
import binascii
import re
from dataclasses import dataclass

_SHIFTED = re.compile(r"&([A-Za-z0-9+,]*)-")
# A LIST response line (aioimaplib strips "* LIST "; other clients may not): the flags,
# the hierarchy delimiter (a quoted char or NIL) and the name (an atom or a quoted string).
_LIST = re.compile(r'^(?:LIST )?\(([^)]*)\) (?:NIL|"(?:[^"\\]|\\.)*") (.+)$', re.IGNORECASE)


def _encode_run(run: str) -> str:
    data = base64.b64encode(run.encode("utf-16-be")).decode("ascii").rstrip("=")
    return "&" + data.replace("/", ",") + "-"


def utf7_encode(name: str) -> str:
    out: list[str] = []
    pending: list[str] = []
    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            if pending:
                out.append(_encode_run("".join(pending)))
                pending = []
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    if pending:
        out.append(_encode_run("".join(pending)))
    return "".join(out)


def quote_mailbox(name: str) -> str:
    encoded = utf7_encode(name)
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _decode_run(match: re.Match[str]) -> str:
    data = match.group(1)
    if not data:
        return "&"
    padded = data.replace(",", "/") + "=" * (-len(data) % 4)
    try:
        return base64.b64decode(padded).decode("utf-16-be")
    except (binascii.Error, UnicodeDecodeError):
        # A server's malformed name stays as it was sent: still selectable as is.
        return match.group(0)


def utf7_decode(wire: str) -> str:
    return _SHIFTED.sub(_decode_run, wire)


@dataclass(frozen=True, slots=True)
class ListedFolder:
    """A folder named in a LIST response, with its attributes (``\\Sent`` ...) lower-cased."""

    name: str
    attributes: frozenset[str]


def parse_list_line(line: str) -> ListedFolder | None:
    """One LIST response line, or None for anything else (literal names are skipped)."""
    match = _LIST.match(line)
    if match is None:
        return None
    flags, name = match.groups()
    if name.startswith('"'):
        if len(name) < 2 or not name.endswith('"'):
            return None
        name = re.sub(r"\\(.)", r"\1", name[1:-1])
    elif name.startswith("{"):
        return None
    return ListedFolder(utf7_decode(name), frozenset(f.lower() for f in flags.split()))
