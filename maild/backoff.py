"""How long a failed task waits before it tries again: exponential, capped, jittered.

Pure: the random draw is a parameter, so tests pin it. Jitter keeps the mailboxes
of one provider that failed together (an outage) from all retrying in the same
second when it comes back.
"""

__all__ = ["Backoff"]

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    initial_s: float = 1.0
    factor: float = 2.0
    cap_s: float = 300.0
    jitter: float = 0.25

    def delay(self, failures: int, draw: float) -> float:
        """Seconds to wait after ``failures`` failures in a row; ``draw`` is uniform in [0, 1)."""
        if failures < 1:
            return 0.0
        # A day of failures would overflow the float power; the cap is reached long before.
        steps = min(failures - 1, 64)
        base = min(self.cap_s, self.initial_s * self.factor**steps)
        return base * (1.0 - self.jitter + 2.0 * self.jitter * draw)
