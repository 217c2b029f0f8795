"""Turn the lines of a ``UID FETCH (UID FLAGS INTERNALDATE BODY.PEEK[])`` response into messages.

aioimaplib hands back a flat list: for each message a ``N FETCH (...{size}``
line, the literal as a bytearray, then the rest of the item list. Servers may
slip unsolicited FETCH responses (a flag changed by another client) in between;
those carry no literal or no UID and are skipped, never mistaken for mail.
"""

__all__ = ["FetchedMessage", "parse_fetch_lines", "parse_internaldate"]

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

_START = re.compile(rb"^\d+ FETCH \(")
_UID = re.compile(rb"[( ]UID (\d+)")
_FLAGS = re.compile(rb"FLAGS \(([^)]*)\)")
_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')


@dataclass(frozen=True, slots=True)
class FetchedMessage:
    uid: int
    raw: bytes
    internaldate: datetime | None
    flags: tuple[str, ...]


def parse_internaldate(value: str) -> datetime | None:
    """RFC 3501 date-time (`` 7-Jul-2026 02:44:25 -0700``); ``None`` when a server mangles it."""
    try:
        return datetime.strptime(value.strip(), "%d-%b-%Y %H:%M:%S %z")
    except ValueError:
        return None


def _finish(items: bytes, literal: bytes | None, out: list[FetchedMessage]) -> None:
    uid = _UID.search(items)
    if uid is None or literal is None:
        return
    flags = _FLAGS.search(items)
    date = _INTERNALDATE.search(items)
    out.append(
        FetchedMessage(
            uid=int(uid.group(1)),
            raw=literal,
            internaldate=parse_internaldate(date.group(1).decode("ascii", "replace"))
            if date
            else None,
            flags=tuple(flags.group(1).decode("utf-8", "replace").split()) if flags else (),
        )
    )


def parse_fetch_lines(lines: Iterable[bytes | bytearray]) -> list[FetchedMessage]:
    out: list[FetchedMessage] = []
    items = b""
    literal: bytes | None = None
    open_item = False
    for line in lines:
        if isinstance(line, bytearray):
            if open_item:
                literal = bytes(line)
            continue
        if _START.match(line):
            if open_item:
                _finish(items, literal, out)
            items, literal, open_item = line, None, True
        elif open_item:
            items += b" " + line
    if open_item:
        _finish(items, literal, out)
    return out
