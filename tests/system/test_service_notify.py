"""`maild run` under a service manager: the sd_notify states a systemd unit relies on.

The test plays systemd's part: it listens on a real Unix datagram socket, hands its path
to maild as NOTIFY_SOCKET with a watchdog period, and reads what maild sends.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.config_files import mailbox_table, password_variable, write_config
from tests.support.dovecot import ImapAccount

pytestmark = pytest.mark.dovecot

WATCHDOG_USEC = 400_000  # maild pings every 0.2 s


@pytest.fixture
def notify_socket() -> Iterator[socket.socket]:
    # A short directory: a Unix socket path must fit in 108 bytes, pytest's tmp_path may not.
    with (
        tempfile.TemporaryDirectory(prefix="maild-notify-") as directory,
        socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock,
    ):
        sock.bind(str(Path(directory) / "notify"))
        sock.settimeout(20)
        yield sock


def next_state(sock: socket.socket, key: str) -> dict[str, str]:
    """The next notification carrying ``key``; WATCHDOG pings in between are skipped."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        fields = dict(line.split("=", 1) for line in sock.recv(4096).decode().splitlines())
        if key in fields:
            return fields
    raise AssertionError(f"no {key} from maild")


def test_run_notifies_ready_watchdog_reloading_and_stopping_and_exits_0(
    imap_account: ImapAccount, tmp_path: Path, notify_socket: socket.socket
) -> None:
    config = write_config(tmp_path, mailbox_table(imap_account))
    config.write_text(config.read_text() + '\n[metrics]\nlisten = "127.0.0.1:0"\n')
    env = {
        **os.environ,
        password_variable("shop"): imap_account.password,
        "NOTIFY_SOCKET": notify_socket.getsockname(),
        "WATCHDOG_USEC": str(WATCHDOG_USEC),
    }
    log = tmp_path / "maild.log"
    with log.open("wb") as sink:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "maild", "--config", str(config), "run"],
            env=env,
            stderr=sink,
        )
    # systemd sets WATCHDOG_PID to the main process, known only once it is started;
    # maild also pings when it is absent, as here.
    try:
        assert next_state(notify_socket, "READY")["READY"] == "1"
        pings = [next_state(notify_socket, "WATCHDOG") for _ in range(3)]
        assert all(ping["WATCHDOG"] == "1" for ping in pings)

        before_us = time.monotonic_ns() // 1000
        daemon.send_signal(signal.SIGHUP)
        reloading = next_state(notify_socket, "RELOADING")
        assert reloading["RELOADING"] == "1"
        # CLOCK_MONOTONIC is system-wide, so maild's stamp is comparable with ours.
        assert before_us <= int(reloading["MONOTONIC_USEC"]) <= time.monotonic_ns() // 1000
        assert next_state(notify_socket, "READY")["READY"] == "1"
        assert next_state(notify_socket, "WATCHDOG")["WATCHDOG"] == "1"

        daemon.send_signal(signal.SIGTERM)
        assert next_state(notify_socket, "STOPPING")["STOPPING"] == "1"
        assert daemon.wait(timeout=15) == 0, log.read_text()
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    assert "config reloaded" in log.read_text()
