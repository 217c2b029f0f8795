"""Waiting for an outcome of another task or process: bounded polling, never a fixed sleep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

__all__ = ["until"]


async def until(check: Callable[[], bool], limit: float = 20.0) -> float:
    """Seconds until ``check`` holds; AssertionError after ``limit`` seconds."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > limit:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
    return time.monotonic() - start
