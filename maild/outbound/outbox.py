"""The outbox's states and the only moves between them; pure, the store applies them.

A reply is stored ``queued`` before any network I/O, with the Message-ID it keeps for
life, so a crash loses nothing and a retry never makes a second, different message.
The sender then moves it, each move committed before the next step:

    queued --claim--> sending --accepted--> sent
       ^                 |  \\--4xx/network--> queued (later, backoff) | failed (limit)
       |                 \\----5xx--------------------------------------> failed
       +---- retry (an agent) ---- failed

At most once, and the one window where it cannot be known: ``sending`` is committed
before the SMTP connection opens, and ``sent`` right after the server's 250. A maild
that dies in between (SIGKILL, power loss) leaves a ``sending`` row whose fate it
cannot know: the server may have taken the message just before the death. On the
next start (or, for another maild's row, once the attempt is long overdue) such a
row is *recovered*, never simply resent: the mailbox's Sent folder
is searched for its Message-ID (Gmail and Microsoft 365 file every submitted message
there themselves, and maild's own copy goes there after ``sent``); found means sent.
Not found, it is queued again and sent with the same Message-ID. A duplicate can
therefore only reach the customer when maild died in the milliseconds between the
server's 250 and the commit of ``sent``, on a server that does not file submissions
in Sent; it is then one duplicate at most, carrying the same Message-ID, which mail
clients and the marketplaces' relays show once. A shutdown (SIGTERM) never opens the
window: the commit after a 250 is shielded from cancellation.
"""

from __future__ import annotations

__all__ = [
    "RETRY_BACKOFF",
    "STATES",
    "OutboxEntry",
    "RetryPolicy",
    "State",
    "TransitionError",
    "accepted",
    "claim",
    "failed_attempt",
    "recovered",
    "requeued",
]

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final, Literal

from maild.backoff import Backoff
from maild.errors import MaildError

State = Literal["queued", "sending", "sent", "failed"]
STATES: Final[tuple[State, ...]] = ("queued", "sending", "sent", "failed")
# The [outbox] defaults: 30 s doubling up to an hour; 8 attempts span about an hour.
RETRY_BACKOFF: Final = Backoff(initial_s=30.0, factor=2.0, cap_s=3600.0, jitter=0.25)


class TransitionError(MaildError):
    """A move the state machine does not allow (e.g. retrying a message already sent)."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how far apart temporary failures are retried before ``failed``."""

    max_attempts: int = 8
    backoff: Backoff = RETRY_BACKOFF


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """What the state machine reads and writes of an outbox row."""

    state: State
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    sent_at: datetime | None = None
    smtp_reply: str | None = None
    attempted_at: datetime | None = None


def _require(entry: OutboxEntry, *states: State, action: str) -> None:
    if entry.state not in states:
        raise TransitionError(f"cannot {action} a message that is {entry.state}")


def claim(entry: OutboxEntry, now: datetime) -> OutboxEntry:
    """Taken for an attempt; committed before the SMTP connection opens."""
    _require(entry, "queued", action="send")
    if entry.next_attempt_at is not None and entry.next_attempt_at > now:
        raise TransitionError(f"not due before {entry.next_attempt_at.isoformat()}")
    return replace(entry, state="sending", attempts=entry.attempts + 1, attempted_at=now)


def accepted(entry: OutboxEntry, now: datetime, reply: str) -> OutboxEntry:
    """The server took it (or a recovery found it in Sent): never sent again."""
    _require(entry, "sending", action="mark sent")
    return replace(
        entry, state="sent", sent_at=now, smtp_reply=reply, next_attempt_at=None, last_error=None
    )


def failed_attempt(
    entry: OutboxEntry,
    now: datetime,
    error: str,
    *,
    permanent: bool,
    policy: RetryPolicy,
    draw: float,
) -> OutboxEntry:
    """After a refusal or a network failure: wait and try again, or give up as ``failed``.

    ``draw`` is the backoff's random draw in [0, 1). A permanent failure (5xx) and a
    temporary one on the last allowed attempt both end in ``failed``, keeping the
    server's answer for the Failed Messages view.
    """
    _require(entry, "sending", action="record a failed attempt of")
    if permanent or entry.attempts >= policy.max_attempts:
        reason = error if permanent else f"{error} (gave up after {entry.attempts} attempts)"
        return replace(entry, state="failed", last_error=reason, next_attempt_at=None)
    wait = timedelta(seconds=policy.backoff.delay(entry.attempts, draw))
    return replace(entry, state="queued", last_error=error, next_attempt_at=now + wait)


def recovered(entry: OutboxEntry, now: datetime, *, in_sent_folder: bool) -> OutboxEntry:
    """A ``sending`` row left by a maild that died mid-attempt, after the Sent check."""
    _require(entry, "sending", action="recover")
    if in_sent_folder:
        return accepted(entry, now, "found in the Sent folder after a restart")
    return replace(
        entry,
        state="queued",
        next_attempt_at=now,
        last_error="maild stopped during an attempt; not in the Sent folder, so sent again",
    )


def requeued(entry: OutboxEntry, now: datetime) -> OutboxEntry:
    """``maild retry``: a failed message gets a fresh set of attempts, due now."""
    _require(entry, "failed", action="retry")
    return replace(entry, state="queued", attempts=0, next_attempt_at=now)
