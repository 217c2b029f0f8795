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
from datetime import datetime, timedelta, timezone

_START = re.compile(rb"^\d+ FETCH \(")
_UID = re.compile(rb"[( ]UID (\d+)")
_FLAGS = re.compile(rb"FLAGS \(([^)]*)\)")
_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')
_DATE_TIME = re.compile(r"(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)")
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}


@dataclass(frozen=True, slots=True)
class FetchedMessage:
    uid: int
    raw: bytes
    internaldate: datetime | None
    flags: tuple[str, ...]


def parse_internaldate(value: str) -> datetime | None:
    """RFC 3501 date-time (`` 7-Jul-2026 02:44:25 -0700``); ``None`` when a server mangles it.

    Read by position: ``strptime`` cost a tenth of landing's time in maild's own process.
    """
    match = _DATE_TIME.fullmatch(value.strip())
    month = _MONTHS.get(match.group(2).lower()) if match else None
    if match is None or month is None:
        return None
    day, _, year, hour, minute, second, sign, zone_h, zone_m = match.groups()
    offset = timedelta(hours=int(zone_h), minutes=int(zone_m))
    try:
        return datetime(
            int(year),
            month,
            int(day),
            int(hour),
            int(minute),
            int(second),
            tzinfo=timezone(-offset if sign == "-" else offset),
        )
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
