"""IMAP AUTHENTICATE XOAUTH2 on aioimaplib, without the token ever entering a logged command.

aioimaplib 2.0.3's own ``xoauth2()`` puts the SASL string (with the token) in the
command it logs and shows in errors, and never answers the error challenge a server
sends after refusing a token, so a refusal hangs until the timeout.
"""

__all__ = ["authenticate_xoauth2"]

import asyncio
import base64
from collections.abc import Callable
from typing import Any

from aioimaplib import aioimaplib

from maild.config.secret import Secret


class _SaslCommand(aioimaplib.Command):  # type: ignore[misc]
    """AUTHENTICATE without an initial response (RFC 3501 section 6.2.2).

    The client's response is written straight to the socket when the server asks
    for it with "+", so the token is never part of a command that aioimaplib logs or
    puts in an error. A second "+" carries the server's refusal (XOAUTH2 sends a JSON
    status there) and is answered with an empty line, after which the tagged NO
    comes; aioimaplib's own ``xoauth2()`` leaves it unanswered until the timeout.
    """

    def __init__(
        self,
        tag: str,
        mechanism: str,
        response: bytes,
        write: Callable[[bytes], object],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        super().__init__("AUTHENTICATE", tag, mechanism, loop=loop)
        self._response: bytes | None = response
        self._write = write

    def append_to_resp(self, line: bytes, result: str = "Pending") -> None:
        if result == "Pending" and isinstance(line, bytes) and line.startswith(b"+"):
            response, self._response = self._response or b"", None
            self._write(response + b"\r\n")
            return
        super().append_to_resp(line, result)


async def authenticate_xoauth2(protocol: Any, username: str, token: Secret) -> Any:
    """Run AUTHENTICATE XOAUTH2 on a connected protocol; returns aioimaplib's Response."""
    sasl = f"user={username}\x01auth=Bearer {token.reveal()}\x01\x01"
    command = _SaslCommand(
        protocol.new_tag(),
        "XOAUTH2",
        base64.b64encode(sasl.encode()),
        protocol.transport.write,
        protocol.loop,
    )
    # As aioimaplib's own login does: the state changes under its condition.
    async with protocol.state_condition:
        response = await protocol.execute(command)
        if response.result == "OK":
            protocol.state = aioimaplib.AUTH
        protocol.state_condition.notify_all()
    return response
