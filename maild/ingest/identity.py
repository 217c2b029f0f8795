"""The identity a message is deduplicated by: its Message-ID and a digest of its bytes.

Computed at landing from the header block alone, so it is cheap and never
fails: a message with no usable Message-ID gets a synthetic one made from its
digest, which stays the same however often the message is fetched.
"""

__all__ = ["MessageKey", "message_key"]

import hashlib
import re
from dataclasses import dataclass

# The blank line that ends the header block, found from its second character: a pattern
# that starts with a literal lets the regex engine skip to candidates (``\r?\n\r?\n``
# tries every position: 9 us of landing's ~100 per message, against 1).
_BLANK_LINE = re.compile(rb"\n\r?\n")
_MESSAGE_ID = re.compile(rb"^message-id[ \t]*:(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)
_ANGLE = re.compile(r"<[^<>\s]+>")
# RFC 5322 caps a line at 998 octets; a longer "Message-ID" is hostile, not an identity.
_MAX_ID = 998
# Control characters (NUL above all, which PostgreSQL refuses in text) make no identity.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class MessageKey:
    message_id: str
    digest: str
    synthetic: bool


def message_key(raw: bytes) -> MessageKey:
    digest = hashlib.sha256(raw).hexdigest()
    blank = _BLANK_LINE.search(raw)
    # Up to the blank line; a carriage return it keeps ends the block as whitespace.
    headers = raw[: blank.start()] if blank else raw
    found = _MESSAGE_ID.search(headers)
    if found:
        value = " ".join(found.group(1).decode("utf-8", "replace").split())
        angle = _ANGLE.search(value)
        candidate = angle.group(0) if angle else value
        if candidate and len(candidate) <= _MAX_ID and not _CONTROL.search(candidate):
            return MessageKey(candidate, digest, synthetic=False)
    return MessageKey(f"<{digest}@maild.invalid>", digest, synthetic=True)
