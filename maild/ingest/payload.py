"""A MIME part's body, transfer-decoded window by window straight from the raw bytes.

Attachments are only measured and hashed, so they are decoded 1 MiB at a time and
nothing of them is kept: a 25 MB attachment costs about 30 MB of extra memory at most
(the stdlib parser needs about 155 MB for it, mostly one object per line). Damaged
base64 (missing padding, stray characters, a truncated last group) is decoded as far
as it goes, as mail clients do, and reported instead of raising.
"""

__all__ = ["Body", "measure", "read"]

import binascii
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

_WINDOW = 1 << 20
_WHITESPACE = b" \t\r\n"
_NOT_BASE64 = bytes(
    set(range(256)) - set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
)


@dataclass(slots=True)
class Body:
    """One part's body range in the raw message and how it is transfer-encoded."""

    raw: bytes
    start: int
    end: int
    encoding: str  # lower-cased Content-Transfer-Encoding, "" when absent
    damaged: bool = False

    def chunks(self) -> Iterator[bytes]:
        if self.encoding == "base64":
            return self._base64()
        if self.encoding == "quoted-printable":
            return self._quoted_printable()
        return self._identity()

    def _identity(self) -> Iterator[bytes]:
        for pos in range(self.start, self.end, _WINDOW):
            yield self.raw[pos : min(pos + _WINDOW, self.end)]

    def _quoted_printable(self) -> Iterator[bytes]:
        pos = self.start
        while pos < self.end:
            stop = min(pos + _WINDOW, self.end)
            if stop < self.end:  # cut after a line end, so no "=\r\n" or "=XX" is split
                newline = self.raw.rfind(b"\n", pos, stop)
                escape = self.raw.rfind(b"=", stop - 2, stop)
                stop = newline + 1 if newline >= pos else escape if escape > pos else stop
            yield binascii.a2b_qp(self.raw[pos:stop])
            pos = stop

    def _base64(self) -> Iterator[bytes]:
        carry = b""
        for pos in range(self.start, self.end, _WINDOW):
            window = self.raw[pos : min(pos + _WINDOW, self.end)].translate(None, _WHITESPACE)
            clean = window.translate(None, _NOT_BASE64)
            self.damaged |= len(clean) != len(window)
            data = carry + clean
            pad = data.find(b"=")
            if pad >= 0:  # padding ends the data (RFC 2045); what follows is ignored
                carry = data[:pad]
                break
            usable = len(data) - len(data) % 4
            carry = data[usable:]
            if usable:
                yield binascii.a2b_base64(data[:usable])
        else:
            self.damaged |= bool(carry)  # the padding is missing
        if len(carry) % 4 == 1:  # half a byte cannot be decoded
            self.damaged = True
            carry = carry[:-1]
        if carry:
            yield binascii.a2b_base64(carry + b"=" * (-len(carry) % 4))


def measure(body: Body) -> tuple[int, str]:
    """Decoded size in bytes and SHA-256 hex digest, keeping no decoded data."""
    digest = hashlib.sha256()
    size = 0
    for chunk in body.chunks():
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def read(body: Body, limit: int) -> tuple[bytes, bool]:
    """The decoded body up to ``limit`` bytes, and whether it was cut there."""
    chunks: list[bytes] = []
    size = 0
    for chunk in body.chunks():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks)[:limit], True
    return b"".join(chunks), False
