"""Column types that keep the same meaning on SQLite and PostgreSQL.

SQLite has no time-zone-aware timestamp, so times are stored as naive UTC and
handed back aware; code above the store never sees a naive datetime.
"""

__all__ = ["RAW_CODECS", "UTCDateTime", "compress_raw", "decode_raw"]

import zlib
from datetime import UTC, datetime

from sqlalchemy.engine import Dialect
from sqlalchemy.types import DateTime, TypeDecorator

# Level 1 keeps landing fast; mail text still shrinks to about a third.
_ZLIB_LEVEL = 1


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always UTC-aware in Python and naive UTC on disk."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("maild stores only time-zone-aware datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


# Landing stores "none" (hashing and a commit is all it may cost); processing, which
# runs on worker processes and may lag, rewrites the bytes as "zlib".
RAW_CODECS = ("none", "zlib")


def compress_raw(raw: bytes) -> bytes:
    """The "zlib" encoding of a message; ``decode_raw`` gives back the same bytes."""
    return zlib.compress(raw, _ZLIB_LEVEL)


def decode_raw(blob: bytes, codec: str) -> bytes:
    if codec == "zlib":
        return zlib.decompress(blob)
    if codec == "none":
        return blob
    raise ValueError(f"unknown raw message codec {codec!r}")
