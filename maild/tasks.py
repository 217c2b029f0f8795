"""Small asyncio helpers the daemon's parts share."""

__all__ = ["cancel_and_wait", "sleep_unless"]

import asyncio
import contextlib


async def cancel_and_wait(task: "asyncio.Task[object]") -> None:
    """Cancel a child task and wait for it, without swallowing our own cancellation."""
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise


async def sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less if ``stop`` is set meanwhile (a shutdown never waits)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stop.wait()
