"""aioimaplib 2.0.3's client protocol with its response loop made linear.

Two defects, measured against Dovecot (see tests/integration/test_imap_defects.py):

* ``IMAP4ClientProtocol._handle_responses`` recurses once per response line and
  copies the rest of the buffer each time. A read holding more than about 500
  lines (many small messages, or a flags-only FETCH) raises RecursionError
  inside ``data_received``; the command is then never completed and never times
  out. The copies make a large read quadratic.
* ``FetchCommand.wait_data`` rescans every line received so far each time a
  line arrives, so the cost per message grows with the size of the response.

The fix keeps the library's line handling and replaces only the loop (an
offset walks the buffer once) and the FETCH completeness check (a running
parenthesis balance). Both are small enough to send upstream as they are.
"""

__all__ = ["LinearFetchCommand", "LinearIMAP4", "LinearProtocol"]

import asyncio
import ssl
from collections.abc import Callable
from typing import Any

from aioimaplib.aioimaplib import (
    CRLF,
    IMAP4_SSL,
    Command,
    FetchCommand,
    IMAP4ClientProtocol,
    IncompleteRead,
    literal_data_re,
)

LineHandler = Callable[[bytes, Command | None], Command | None]


class LinearFetchCommand(FetchCommand):  # type: ignore[misc]
    """A FETCH whose "is this response complete?" check is O(1) per line."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self._balance = 0
        super().__init__(*args, **kwargs)

    def append_to_resp(self, line: bytes, result: str = "Pending") -> None:
        # Literal payloads arrive as bytearray and never count: their parentheses
        # are message text, exactly as the library's own check treats them.
        if type(line) is bytes:
            if self.FETCH_MESSAGE_DATA_RE.match(line):
                self._balance = 0
            self._balance += line.count(b"(") - line.count(b")")
        super().append_to_resp(line, result)

    def wait_data(self) -> bool:
        return self._balance != 0


class LinearProtocol(IMAP4ClientProtocol):  # type: ignore[misc]
    """The library's protocol, walking each received buffer once with a loop."""

    # Set by the library's __init__; declared so the checker knows their types.
    incomplete_line: bytes
    current_command: Command | None

    def data_received(self, d: bytes) -> None:
        # As the library's, without its ``log.debug("Received : %s" % d)``: that formats
        # every chunk (message bytes included) even with DEBUG off, a sixth of landing's
        # time, and with DEBUG on it would put customers' mail in the log.
        try:
            data = self.incomplete_line + d if self.incomplete_line else d
            self._handle_responses(data, self._handle_line, self.current_command)
            self.incomplete_line = b""
            self.current_command = None
        except IncompleteRead as incomplete_read:
            self.current_command = incomplete_read.cmd
            self.incomplete_line = incomplete_read.data

    def _handle_responses(
        self, data: bytes, line_handler: LineHandler, current_cmd: Command | None = None
    ) -> None:
        pos = 0
        while pos < len(data):
            if current_cmd is not None and current_cmd.wait_literal_data():
                pos = self._read_literal(data, pos, current_cmd)
                continue
            end = data.find(CRLF, pos)
            if end < 0:
                raise IncompleteRead(current_cmd, data[pos:])
            line = data[pos:end]
            pos = end + len(CRLF)
            current_cmd = self._after_line(line, line_handler(line, current_cmd))
        if self.pending_sync_command is not None:
            self.pending_sync_command.flush()
        if current_cmd is not None and current_cmd.wait_data():
            raise IncompleteRead(current_cmd)

    @staticmethod
    def _read_literal(data: bytes, pos: int, cmd: Command) -> int:
        missing = cmd._expected_size - len(cmd._resp_literal_data)
        cmd.append_literal_data(data[pos : pos + missing])
        pos = min(len(data), pos + missing)
        if cmd.wait_literal_data():
            raise IncompleteRead(cmd)
        if pos >= len(data):
            # As the library does: the line after the literal is still owed.
            raise IncompleteRead(cmd, b"")
        return pos

    @staticmethod
    def _after_line(line: bytes, cmd: Command | None) -> Command | None:
        """The command that owns what follows ``line``, as the library decides it."""
        literal = literal_data_re.match(line)
        if literal:
            if cmd is None:
                cmd = Command("NIL", "unused")
            cmd.begin_literal_data(int(literal.group("size")))
            return cmd
        if cmd is not None and cmd.wait_data():
            return cmd
        return None


class LinearIMAP4(IMAP4_SSL):  # type: ignore[misc]
    """aioimaplib's client on the linear protocol; TLS only when given a context."""

    def create_client(
        self,
        host: str,
        port: int,
        loop: asyncio.AbstractEventLoop | None,
        conn_lost_cb: Any = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        loop = loop or asyncio.get_running_loop()
        self.protocol = LinearProtocol(loop, conn_lost_cb)
        self._client_task = loop.create_task(
            loop.create_connection(lambda: self.protocol, host, port, ssl=ssl_context)
        )
