"""Find the line on which a TOML key is written, for error messages.

tomllib returns plain dicts without positions, so this scans the text once and
records the line of every key path: table headers (``[a."b.c"]``, ``[[a]]``),
dotted keys, inline tables and array elements. It only ever sees text that tomllib
has already accepted, so it can be lenient; still, it never raises and always ends,
because a locator bug must not hide the real configuration problem.
"""

from __future__ import annotations

__all__ = ["Loc", "key_lines", "line_of"]

import bisect
import re
import tomllib
from collections.abc import Mapping
from typing import Final

Loc = tuple[str | int, ...]

_BARE: Final = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR_END: Final = re.compile(r"[,\]}\n#]")
_BLANK: Final = " \t\r"


def key_lines(text: str) -> dict[Loc, int]:
    """Map each key path in ``text`` to the 1-based line where it is defined."""
    return _Scanner(text).scan()


def line_of(lines: Mapping[Loc, int], loc: Loc) -> int | None:
    """The line of ``loc``, else of its nearest enclosing key or table, else None."""
    for end in range(len(loc), 0, -1):
        line = lines.get(loc[:end])
        if line is not None:
            return line
    return None


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.newlines = [i for i, char in enumerate(text) if char == "\n"]
        self.lines: dict[Loc, int] = {}
        self.array_tables: dict[Loc, int] = {}  # [[path]] -> index of its last element
        self.table: Loc = ()

    def scan(self) -> dict[Loc, int]:
        while self._skip_blank_lines_and_comments():
            start = self.pos
            if self._peek() == "[":
                self._header()
            else:
                self._keyval(self.table)
            if self.pos == start:  # unreadable: step over it rather than loop
                self.pos += 1
        return self.lines

    # -- structure ------------------------------------------------------------

    def _header(self) -> None:
        line = self._line()
        is_array = self.text.startswith("[[", self.pos)
        self.pos += 2 if is_array else 1
        keys = self._key()
        self.pos += 2 if is_array else 1
        if not keys:
            return
        loc = (*self._indexed(keys[:-1]), keys[-1])
        for end in range(1, len(loc)):
            self.lines.setdefault(loc[:end], line)
        if is_array:
            index = self.array_tables.get(loc, -1) + 1
            self.array_tables[loc] = index
            self.lines.setdefault(loc, line)
            loc = (*loc, index)
        self.lines[loc] = line
        self.table = loc

    def _indexed(self, keys: Loc) -> Loc:
        """Insert the current element index after each array-of-tables prefix."""
        loc: Loc = ()
        for key in keys:
            loc = (*loc, key)
            if loc in self.array_tables:
                loc = (*loc, self.array_tables[loc])
        return loc

    def _keyval(self, base: Loc) -> None:
        line = self._line()
        keys = self._key()
        if not keys:
            return
        loc = base + keys
        for end in range(len(base) + 1, len(loc)):
            self.lines.setdefault(loc[:end], line)
        self.lines[loc] = line
        self._skip(_BLANK)
        if self._peek() == "=":
            self.pos += 1
            self._skip(_BLANK)
            self._value(loc)

    def _key(self) -> Loc:
        keys: list[str | int] = []
        while True:
            self._skip(_BLANK)
            part = self._key_part()
            if part is None:
                break
            keys.append(part)
            self._skip(_BLANK)
            if self._peek() != ".":
                break
            self.pos += 1
        return tuple(keys)

    def _key_part(self) -> str | None:
        start = self.pos
        char = self._peek()
        if char in {'"', "'"}:
            self._string()
            token = self.text[start : self.pos]
            if char == "'":
                return token[1:-1]
            try:  # let tomllib decode the escapes it has already accepted
                return next(iter(tomllib.loads(f"{token} = 0")))
            except (tomllib.TOMLDecodeError, StopIteration):
                return token[1:-1]
        match = _BARE.match(self.text, self.pos)
        if match is None:
            return None
        self.pos = match.end()
        return match.group()

    # -- values ---------------------------------------------------------------

    def _value(self, loc: Loc) -> None:
        char = self._peek()
        if char in {'"', "'"}:
            self._string()
        elif char == "[":
            self._array(loc)
        elif char == "{":
            self._inline_table(loc)
        else:
            match = _SCALAR_END.search(self.text, self.pos)
            self.pos = match.start() if match else len(self.text)

    def _array(self, loc: Loc) -> None:
        self.pos += 1
        index = 0
        while self._skip_blank_lines_and_comments() and self._peek() != "]":
            start = self.pos
            self.lines[(*loc, index)] = self._line()
            self._value((*loc, index))
            index += 1
            self._skip_blank_lines_and_comments()
            if self._peek() == "," or self.pos == start:  # a comma, or something unreadable
                self.pos += 1
        self.pos += 1

    def _inline_table(self, loc: Loc) -> None:
        self.pos += 1
        while self._skip_blank_lines_and_comments() and self._peek() != "}":
            start = self.pos
            self._keyval(loc)
            self._skip(_BLANK)
            if self._peek() == "," or self.pos == start:  # a comma, or something unreadable
                self.pos += 1
        self.pos += 1

    def _string(self) -> None:
        quote = self.text[self.pos]
        if self.text.startswith(quote * 3, self.pos):
            end = self._find_close(quote * 3, self.pos + 3, escapes=quote == '"')
            # Up to two quotes may sit right before the closing delimiter.
            while self.text.startswith(quote, end):
                end += 1
            self.pos = end
        else:
            self.pos = self._find_close(quote, self.pos + 1, escapes=quote == '"')

    def _find_close(self, delimiter: str, pos: int, *, escapes: bool) -> int:
        """Return the position just after ``delimiter``, honouring backslash escapes."""
        while pos < len(self.text):
            if escapes and self.text[pos] == "\\":
                pos += 2
            elif self.text.startswith(delimiter, pos):
                return pos + len(delimiter)
            else:
                pos += 1
        return len(self.text)

    # -- low level ------------------------------------------------------------

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _skip(self, chars: str) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in chars:
            self.pos += 1

    def _skip_blank_lines_and_comments(self) -> bool:
        """Skip whitespace, newlines and comments; return whether text remains."""
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in " \t\r\n":
                self.pos += 1
            elif char == "#":
                newline = self.text.find("\n", self.pos)
                self.pos = len(self.text) if newline < 0 else newline
            else:
                return True
        return False

    def _line(self) -> int:
        return bisect.bisect_left(self.newlines, self.pos) + 1
