"""A failing folder task waits longer after each failure, up to a cap, never in lockstep."""

import pytest

from maild.backoff import Backoff

BACKOFF = Backoff(initial_s=1.0, factor=2.0, cap_s=300.0, jitter=0.25)


def test_no_failure_means_no_wait() -> None:
    assert BACKOFF.delay(0, 0.5) == 0.0


@pytest.mark.parametrize(("failures", "expected"), [(1, 1.0), (2, 2.0), (3, 4.0), (9, 256.0)])
def test_delay_doubles_with_each_failure_in_a_row(failures: int, expected: float) -> None:
    assert BACKOFF.delay(failures, 0.5) == expected


@pytest.mark.parametrize("failures", [10, 11, 100, 100_000])
def test_delay_never_exceeds_the_cap_even_after_days_of_failures(failures: int) -> None:
    assert BACKOFF.delay(failures, 0.5) == 300.0
    assert BACKOFF.delay(failures, 0.999) <= 300.0 * 1.25


def test_jitter_spreads_retries_of_tasks_that_failed_together() -> None:
    low, high = BACKOFF.delay(4, 0.0), BACKOFF.delay(4, 0.999999)
    assert low == pytest.approx(8.0 * 0.75)
    assert high == pytest.approx(8.0 * 1.25, rel=1e-5)
