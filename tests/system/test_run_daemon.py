"""`maild run` as a process: it keeps syncing, serves metrics and stops cleanly on SIGTERM."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.support.config_files import mailbox_table, password_variable, write_config
from tests.support.dovecot import ImapAccount
from tests.support.mailgen import make_message, make_messages

pytestmark = pytest.mark.dovecot


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def eventually(check: Callable[[], bool], timeout: float = 20.0) -> None:
    """Wait for an outcome of another process, bounded; never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def stored(db: Path) -> int:
    if not db.exists():
        return 0
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(
                    text("SELECT count(*) FROM message WHERE state = 'processed'")
                ).scalar_one()
            )
    except Exception:  # the schema may not exist yet while maild starts
        return 0
    finally:
        engine.dispose()


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        body: bytes = response.read()
    return body.decode()


def test_daemon_ingests_new_mail_serves_metrics_and_exits_cleanly_on_sigterm(
    imap_account: ImapAccount, tmp_path: Path
) -> None:
    imap_account.deliver(make_messages(5, seed=40))
    port = free_port()
    table = mailbox_table(imap_account).replace("fetch_batch", "poll_interval_s = 0.2\nfetch_batch")
    config = write_config(tmp_path, table)
    config.write_text(config.read_text() + f'\n[metrics]\nlisten = "127.0.0.1:{port}"\n')
    env = {**os.environ, password_variable("shop"): imap_account.password}
    daemon = subprocess.Popen(
        [sys.executable, "-m", "maild", "--config", str(config), "run"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        db = tmp_path / "maild.db"
        eventually(lambda: stored(db) == 5)
        imap_account.deliver([make_message(99, seed=40)])
        eventually(lambda: stored(db) == 6)
        eventually(lambda: 'maild_messages_landed_total{mailbox="shop"} 6.0' in scrape(port))
        assert 'maild_messages_processed_total{outcome="processed"} 6.0' in scrape(port)
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=10)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.communicate()
    assert daemon.returncode == 0, err
    assert "maild stopped" in err
