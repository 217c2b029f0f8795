"""sd_notify without systemd: who pings the watchdog, and a notification never breaks maild."""

import logging
import socket
import tempfile
from pathlib import Path

import pytest

from maild.service_notify import ServiceNotifier, watchdog_interval_s


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4242"}, 15.0),
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
    ids=["own-pid", "no-pid", "another-process", "zero", "garbage", "unset"],
)
def test_watchdog_pings_at_half_the_period_only_for_the_process_systemd_watches(
    environ: dict[str, str], expected: float | None
) -> None:
    assert watchdog_interval_s(environ, 4242) == expected


def test_without_notify_socket_notifications_are_a_no_op() -> None:
    notifier = ServiceNotifier.from_environ({})
    notifier.ready()
    notifier.stopping()


def test_abstract_socket_name_is_reached_and_ready_after_stopping_is_not_sent() -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind("\0maild-test-notify-" + str(id(listener)))
        name = "@" + listener.getsockname()[1:].decode()
        listener.settimeout(5)
        notifier = ServiceNotifier(name)
        notifier.stopping()
        notifier.ready()
        notifier.watchdog()
        assert listener.recv(100).split(b"\n")[0] == b"STOPPING=1"
        assert listener.recv(100) == b"WATCHDOG=1"


def test_unreachable_socket_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    with tempfile.TemporaryDirectory() as directory:
        ServiceNotifier(str(Path(directory) / "gone")).ready()
    assert "service notification not sent state=READY error=" in caplog.text
    assert caplog.records[0].levelno == logging.ERROR
