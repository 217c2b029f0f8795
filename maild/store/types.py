"""Column types that keep the same meaning on SQLite and PostgreSQL.

SQLite has no time-zone-aware timestamp, so times are stored as naive UTC and
handed back aware; code above the store never sees a naive datetime.
"""

__all__ = ["RAW_CODEC", "RAW_CODECS", "UTCDateTime", "compress_raw", "decode_raw", "json_text"]

import threading
import zlib
from _json import make_encoder
from collections.abc import Callable
from datetime import UTC, datetime
from json.encoder import JSONEncoder, encode_basestring_ascii
from typing import Any

import zstandard
from sqlalchemy.engine import Dialect
from sqlalchemy.types import DateTime, TypeDecorator

from maild.errors import StoreError

# Level 1 keeps landing fast; mail text still shrinks to between a half and a quarter.
_ZSTD_LEVEL = 1


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always UTC-aware in Python and naive UTC on disk."""

    impl = DateTime
    cache_ok = True

    # Both directions rebuild the datetime from its date and time rather than call
    # ``replace(tzinfo=...)``, which parses keyword arguments and costs four times as
    # much: every timestamp maild reads or writes goes through here.

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else _naive_utc(value)

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        """On SQLite, the stored text in one step rather than two.

        The text SQLAlchemy's SQLite DATETIME would make of :meth:`process_bind_param`'s
        result, made by ``isoformat`` in half the time (1.3 -> 0.6 us): a message writes
        some ten timestamps as it is processed and threaded, a new conversation five.
        """
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        return _sqlite_text

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else datetime.combine(value.date(), value.time(), UTC)


def _naive_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("maild stores only time-zone-aware datetimes")
    utc = value.astimezone(UTC)
    return datetime.combine(utc.date(), utc.time())


def _sqlite_text(value: datetime | None) -> str | None:
    """``value`` as SQLite holds it: naive UTC, "2026-11-24 01:30:15.000000"."""
    return None if value is None else _naive_utc(value).isoformat(" ", "microseconds")


# The C encoder ``json.dumps`` builds, with the same arguments, on every call: building
# it cost more than encoding a short list, and a processed message writes seven JSON
# values. Without the circular-reference check (``markers`` None), the one thing it adds.
_json_encoder = make_encoder(
    None, JSONEncoder().default, encode_basestring_ascii, None, ": ", ", ", False, False, True
)


def json_text(value: Any) -> str:
    """``json.dumps(value)``, to the character, in a quarter of its time for a short list:
    the serializer of the engine's JSON columns (maild.store.engine)."""
    return "".join(_json_encoder(value, 0))


#: How stored bytes are encoded now. Zstandard at level 1 (rather than zlib at level 1,
#: which maild used before) gives the same size for mail, compresses a 13 KB message
#: in about a third of the CPU time (90 -> 26 us) and reads it back in half (34 -> 15 us):
#: compression was a third of the CPU of landing, which bounds how fast a folder lands.
RAW_CODEC = "zstd"
#: Every encoding a stored message may be in: "none" (a message stored before it could
#: be compressed, rewritten by processing), "zlib" (rows of older maild versions).
RAW_CODECS = ("none", "zlib", RAW_CODEC)

# A zstd context is not safe to share between threads, and making one per call costs as
# much as compressing a short message: each thread keeps its own.
_contexts = threading.local()


def compress_raw(raw: bytes) -> bytes:
    """The :data:`RAW_CODEC` encoding of a message; ``decode_raw`` gives back the bytes."""
    compressor = getattr(_contexts, "compressor", None)
    if compressor is None:
        compressor = _contexts.compressor = zstandard.ZstdCompressor(level=_ZSTD_LEVEL)
    return compressor.compress(raw)


def decode_raw(blob: bytes, codec: str) -> bytes:
    """The message bytes ``blob`` holds; :class:`StoreError` if they cannot be read back
    (a damaged disk or a hand-edited row), which the caller names the message in."""
    try:
        if codec == RAW_CODEC:
            decompressor = getattr(_contexts, "decompressor", None)
            if decompressor is None:
                decompressor = _contexts.decompressor = zstandard.ZstdDecompressor()
            return decompressor.decompress(blob)
        if codec == "zlib":
            return zlib.decompress(blob)
    except (zstandard.ZstdError, zlib.error) as exc:
        raise StoreError(f"stored bytes are damaged ({codec}: {exc})") from exc
    if codec == "none":
        return blob
    raise StoreError(f"stored bytes are in an unknown encoding {codec!r}")
