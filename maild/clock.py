"""The wall clock, read in one place: the pure core takes ``now`` as a parameter instead."""

__all__ = ["utcnow"]

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
