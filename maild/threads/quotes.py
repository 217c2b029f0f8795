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
# What every quote header above starts with, in one cheap test: most lines of a message
# fail it, and then none of the expressions above needs to run on them.
_STARTS: Final = r"(?:[-_=*]|on{space}|在|于|begin|from|发件人|寄件者|發件人)"
_MAY_START_QUOTE: Final = re.compile(r"\s*" + _STARTS.format(space=r"\s"), re.IGNORECASE)
# The lines that may be quoted or start a quote (both tests above, at the start of a line),
# found in one scan of the text with its lines joined by "\n": the engine skips from one
# "\n" to the next, and its spaces stop at the next one.
_MAY_MATTER: Final = re.compile(
    r"\n(?:[ \t]{0,8}>|[^\S\n]*" + _STARTS.format(space=r"[^\S\n]") + ")", re.IGNORECASE
)


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
    """
    lines = text.splitlines()
    joined = "\n" + "\n".join(lines)
    cut = len(lines)
    marked: list[int] = []
    for index in _maybe_quoted(joined):
        if _starts_quote(lines, index):
            cut = index
            break
        if _QUOTE_MARK.match(lines[index]):
            marked.append(index)
    if cut == len(lines) and not marked:
        return Split(joined[1:], "")
    quoted = [lines[index] for index in marked] + lines[cut:]
    return Split("\n".join(_unmarked(lines, cut, marked)), "\n".join(quoted))


def _unmarked(lines: list[str], cut: int, marked: list[int]) -> list[str]:
    """The lines before ``cut`` but the ``marked`` ones (ascending), copied a run at a
    time rather than tested one by one (split_quoted 15.3 -> 13.3 us per message)."""
    own: list[str] = []
    start = 0
    for index in marked:
        own += lines[start:index]
        start = index + 1
    own += lines[start:cut]
    return own


def _maybe_quoted(joined: str) -> Iterator[int]:
    """The indexes of the lines of ``joined`` (``"\\n"`` before each) that may matter."""
    index = 0
    position = 0
    for match in _MAY_MATTER.finditer(joined):
        index += joined.count("\n", position, match.start())
        position = match.start()
        yield index


def _starts_quote(lines: list[str], index: int) -> bool:
    """Whether the line at ``index`` is a reply or forward header that ends the own text."""
    line = lines[index]
    if not _MAY_START_QUOTE.match(line):
        return False
    if _BANNER.match(line) or _ON_WROTE.match(line) or _ZH_WROTE.match(line):
        return True
    following = lines[index + 1 : index + 1 + _HEADER_BLOCK_LINES]
    if (
        following
        and line.lstrip().lower().startswith("on ")
        and _ON_WROTE.match(f"{line} {following[0]}")
    ):
        return True  # "On <date>, <name> <address>" wrapped before "wrote:"
    return bool(_FROM_FIELD.match(line)) and any(_DATE_FIELD.match(row) for row in following)
