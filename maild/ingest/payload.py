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
# Transfer encodings that are decoded; any other body is its own bytes.
_DECODED = frozenset({"base64", "quoted-printable"})
_WHITESPACE = b" \t\r\n"
_BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_NOT_BASE64 = bytes(set(range(256)) - set(_BASE64))


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
            window = self.raw[pos : min(pos + _WINDOW, self.end)]
            self.damaged |= bool(_stray(window))
            data = carry + window.translate(None, _NOT_BASE64)
            pad = data.find(b"=")  # padding ends the data (RFC 2045); what follows is ignored
            end = len(data) if pad < 0 else pad
            usable = end - end % 4
            if usable:  # decoded where it lies, not copied first (as the padded end was)
                yield binascii.a2b_base64(memoryview(data)[:usable])
            carry = data[usable:end]
            if pad >= 0:
                # Nothing after the padding is decoded, but junk there is damage all the
                # same, in this window or a later one.
                self.damaged |= bool(_stray(self.raw[pos + len(window) : self.end]))
                break
        else:
            self.damaged |= bool(carry)  # the padding is missing
        if len(carry) % 4 == 1:  # half a byte cannot be decoded
            self.damaged = True
            carry = carry[:-1]
        if carry:
            yield binascii.a2b_base64(carry + b"=" * (-len(carry) % 4))


def _stray(window: bytes) -> bytes:
    """What in a base64 window is neither base64 nor whitespace: damage.

    Deleting the alphabet leaves only the line ends of intact base64, so this costs a
    third of copying the window without its whitespace first (2.4 us instead of 7 us for
    a 9 KB body). With the in-place decoding, a 9 KB HTML part reads in 25.7 us, not 27.6.
    """
    return window.translate(None, _BASE64).translate(None, _WHITESPACE)


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
    if body.encoding not in _DECODED and body.end - body.start <= limit:
        return body.raw[body.start : body.end], False  # what joining its windows gives
    chunks: list[bytes] = []
    size = 0
    for chunk in body.chunks():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks)[:limit], True
    return b"".join(chunks), False
