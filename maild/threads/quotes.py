"""Tell a message's own words from the earlier messages it quotes.

A reply usually carries the conversation below it, and a seller's earlier reply may
name another order ("we also refunded 111-…"); counted as the customer's own words,
that ID would thread the new message into the wrong conversation. Two forms are
recognised: lines marked with ``>``, wherever they are, and a reply header after
which everything is quoted (top-posting, as Outlook, Gmail, Apple Mail, QQ Mail,
163 and Foxmail write it, in English and Chinese). Forwarded messages count as
quoted too: the forwarder's own text says what the message is about.
"""

from __future__ import annotations

__all__ = ["Split", "split_quoted"]

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

_QUOTE_MARK: Final = re.compile(r"[ \t]{0,8}>")
# "-----Original Message-----", "---------- Forwarded message ---------",
# "------------------ 原始邮件 ------------------", "---- 回复的原邮件 ----", and Apple's
# "Begin forwarded message:"; the rule lines keep a sentence that starts with the
# words from counting.
_BANNER: Final = re.compile(
    r"[ \t]{0,8}(?:[-_=*][-_=* \t]{1,40}(?:original message|forwarded message"
    r"|ursprüngliche nachricht|weitergeleitete nachricht"
    r"|原始邮件|原始郵件|回复的原邮件|原邮件|转发邮件|转发的邮件|轉寄郵件)"
    r"|begin forwarded message[ \t]?:)",
    re.IGNORECASE,
)
_ON_WROTE: Final = re.compile(r"[ \t]{0,8}on[ \t].{0,300}?wrote[ \t]?:[ \t]*$", re.IGNORECASE)
_ZH_WROTE: Final = re.compile(r"[ \t]{0,8}(?:在|于).{0,300}?(?:写道|寫道)[ \t]?:?[ \t]*$")
_FROM_FIELD: Final = re.compile(
    r"[ \t*]{0,8}(?:from|发件人|寄件者|發件人)[ \t*]{0,3}:", re.IGNORECASE
)
_DATE_FIELD: Final = re.compile(
    r"[ \t*]{0,8}(?:sent|date|发送时间|发送日期|日期|時間|寄件日期)[ \t*]{0,3}:", re.IGNORECASE
)
_HEADER_BLOCK_LINES: Final = 4
# What str.splitlines breaks lines at besides "\n", in ASCII and in all.
_ASCII_BREAKS: Final = "\r\x0b\x0c\x1c\x1d\x1e"
_BREAKS: Final = _ASCII_BREAKS + "\x85\u2028\u2029"
# What every quote header above starts with, in one cheap test: most lines of a message
# fail it, and then none of the expressions above needs to run on them.
_STARTS: Final = r"(?:[-_=*]|on{space}|在|于|begin|from|发件人|寄件者|發件人)"
_MAY_START_QUOTE: Final = re.compile(r"\s*" + _STARTS.format(space=r"\s"), re.IGNORECASE)
# The lines that may be quoted or start a quote (both tests above, at the start of a line),
# found in one scan of the text with its lines joined by "\n": the engine skips from one
# "\n" to the next, and its spaces stop at the next one.
_MAY_MATTER_LINE: Final = r"(?:[ \t]{0,8}>|[^\S\n]*" + _STARTS.format(space=r"[^\S\n]") + ")"
# Every first character of _MAY_MATTER_LINE, tested in one step after each "\n" before
# the alternatives: most lines start with none of them (5.8 -> 4.1 us a message).
_FIRST_CHARS: Final = r"[\s>\-_=*obf在于发寄發]"
_MAY_MATTER: Final = re.compile(rf"\n(?={_FIRST_CHARS}){_MAY_MATTER_LINE}", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Split:
    """A message text cut into the sender's own lines and the quoted ones."""

    own: str
    quoted: str


@functools.lru_cache(maxsize=8)
def split_quoted(text: str) -> Split:
    """Split ``text`` (already folded, so full-width ``＞`` and ``：`` are ASCII).

    Cached: order IDs, tags and the customer's name each read the same message's own
    text, and splitting is a scan of every line.

    The text is read as offsets into it, with ``"\\n"`` before each line: only the lines
    that may matter are cut out, rather than every line (split_quoted 16.0 -> 10.9 us
    per message of bench/ingest_stages.py).
    """
    joined = "\n" + _lines(text)
    own: list[str] = []  # runs of own lines, each one or more lines
    marked: list[str] = []
    position = 1  # the start of the first line not yet taken
    cut = len(joined) + 1  # the start of the line that starts the quote, if any
    for start in _maybe_quoted(joined):
        end = joined.find("\n", start)
        end = len(joined) if end < 0 else end
        # A marked line never starts a quote (no quote header starts with ">"), and most
        # of the lines found are marked: test that first.
        if _QUOTE_MARK.match(joined, start, end):
            if start > position:
                own.append(joined[position : start - 1])
            marked.append(joined[start:end])
            position = end + 1
        elif _starts_quote(joined, start, end):
            cut = start
            break
    if cut > len(joined) and not marked:
        return Split(joined[1:], "")
    if cut > position:
        own.append(joined[position : cut - 1])
    quoted = [*marked, joined[cut:]] if cut <= len(joined) else marked
    return Split("\n".join(own), "\n".join(quoted))


def _lines(text: str) -> str:
    """``"\\n".join(text.splitlines())``, without splitting where the text's only line
    breaks are ``"\\n"`` (as parsing leaves nearly all text): a test for each other
    break is a fast scan of its own."""
    if any(char in text for char in (_ASCII_BREAKS if text.isascii() else _BREAKS)):
        return "\n".join(text.splitlines())
    return text.removesuffix("\n")


def _maybe_quoted(joined: str) -> Iterator[int]:
    """The starts of the lines of ``joined`` (``"\\n"`` before each) that may matter."""
    for match in _MAY_MATTER.finditer(joined):
        yield match.start() + 1


def _starts_quote(joined: str, start: int, end: int) -> bool:
    """Whether the line ``joined[start:end]`` is a reply or forward header that ends the
    own text (``"\\n"`` before each line of ``joined``)."""
    line = joined[start:end]
    if not _MAY_START_QUOTE.match(line):
        return False
    if _BANNER.match(line) or _ON_WROTE.match(line) or _ZH_WROTE.match(line):
        return True
    following = _following(joined, end)
    if (
        following
        and line.lstrip().lower().startswith("on ")
        and _ON_WROTE.match(f"{line} {following[0]}")
    ):
        return True  # "On <date>, <name> <address>" wrapped before "wrote:"
    return bool(_FROM_FIELD.match(line)) and any(_DATE_FIELD.match(row) for row in following)


def _following(joined: str, end: int) -> list[str]:
    """The (at most) _HEADER_BLOCK_LINES lines after the line that ends at ``end``."""
    if end >= len(joined):
        return []
    stop = end
    for _ in range(_HEADER_BLOCK_LINES):
        stop = joined.find("\n", stop + 1)
        if stop < 0:
            stop = len(joined)
            break
    return joined[end + 1 : stop].split("\n")
