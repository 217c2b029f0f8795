"""`maild run` as a child process: start it, wait for what it does, read its metrics."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

__all__ = ["eventually", "scrape", "start_daemon"]


def eventually(check: Callable[[], bool], timeout: float = 20.0) -> float:
    """Seconds until ``check`` holds (an outcome of another process); bounded, never a
    fixed sleep. AssertionError after ``timeout`` seconds."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)
    return time.monotonic() - start


def start_daemon(config: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    # The log goes to a file: a pipe nobody reads would block maild once it is full.
    with log.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "maild", "--config", str(config), "run"],
            env=env,
            stderr=sink,
        )


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        body: bytes = response.read()
    return body.decode()
