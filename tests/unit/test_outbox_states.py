"""The outbox's state machine: every allowed move, and the moves it refuses."""

from datetime import UTC, datetime, timedelta

import pytest

from maild.backoff import Backoff
from maild.outbound.outbox import (
    OutboxEntry,
    RetryPolicy,
    TransitionError,
    accepted,
    claim,
    failed_attempt,
    recovered,
    requeued,
)

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=3, backoff=Backoff(initial_s=30.0, cap_s=3600.0, jitter=0.0))


def sending(attempts: int = 1) -> OutboxEntry:
    return claim(OutboxEntry("queued", attempts=attempts - 1), NOW)


def test_claim_counts_the_attempt_and_records_when_it_started() -> None:
    entry = claim(OutboxEntry("queued", next_attempt_at=NOW), NOW)
    assert (entry.state, entry.attempts, entry.attempted_at) == ("sending", 1, NOW)


def test_a_message_waiting_for_its_retry_cannot_be_claimed_early() -> None:
    with pytest.raises(TransitionError, match="not due before"):
        claim(OutboxEntry("queued", next_attempt_at=NOW + timedelta(seconds=1)), NOW)


def test_temporary_failures_back_off_exponentially_until_the_limit_fails_the_message() -> None:
    waits = []
    entry = OutboxEntry("queued")
    for _ in range(POLICY.max_attempts - 1):
        entry = failed_attempt(
            claim(entry, NOW), NOW, "451 later", permanent=False, policy=POLICY, draw=0.5
        )
        assert entry.state == "queued" and entry.last_error == "451 later"
        assert entry.next_attempt_at is not None
        waits.append((entry.next_attempt_at - NOW).total_seconds())
        entry = OutboxEntry("queued", attempts=entry.attempts)
    last = failed_attempt(
        claim(entry, NOW), NOW, "451 later", permanent=False, policy=POLICY, draw=0.5
    )
    assert waits == [30.0, 60.0]
    assert last.state == "failed" and last.last_error == "451 later (gave up after 3 attempts)"


def test_a_permanent_failure_fails_at_once_with_the_servers_answer() -> None:
    entry = failed_attempt(
        sending(), NOW, "550 5.1.1 no such user", permanent=True, policy=POLICY, draw=0.0
    )
    assert (entry.state, entry.last_error, entry.next_attempt_at) == (
        "failed",
        "550 5.1.1 no such user",
        None,
    )


def test_accepted_is_final_and_cannot_be_retried() -> None:
    sent = accepted(sending(), NOW, "250 queued as 42")
    assert (sent.state, sent.sent_at, sent.smtp_reply) == ("sent", NOW, "250 queued as 42")
    with pytest.raises(TransitionError, match="cannot retry a message that is sent"):
        requeued(sent, NOW)
    with pytest.raises(TransitionError):
        claim(sent, NOW)


def test_an_interrupted_attempt_found_in_sent_is_sent_and_otherwise_queued_again() -> None:
    found = recovered(sending(), NOW, in_sent_folder=True)
    missing = recovered(sending(), NOW, in_sent_folder=False)
    assert found.state == "sent" and found.smtp_reply == "found in the Sent folder after a restart"
    assert (missing.state, missing.next_attempt_at, missing.attempts) == ("queued", NOW, 1)


def test_retry_gives_a_failed_message_fresh_attempts_due_now() -> None:
    failed = OutboxEntry("failed", attempts=8, last_error="550 no")
    entry = requeued(failed, NOW)
    assert (entry.state, entry.attempts, entry.next_attempt_at) == ("queued", 0, NOW)
    with pytest.raises(TransitionError, match="cannot retry a message that is queued"):
        requeued(entry, NOW)
