"""`maild run` as a process: it keeps syncing, serves metrics and stops cleanly on SIGTERM."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.support.config_files import mailbox_table, password_variable, write_config
from tests.support.daemons import eventually, scrape, start_daemon
from tests.support.dovecot import DovecotServer, ImapAccount
from tests.support.mailgen import make_message, make_messages
from tests.support.smtp import free_port

pytestmark = pytest.mark.dovecot


def count(db: Path, state: str | None = None) -> int:
    """Messages landed (in ``state``, if given)."""
    engine = create_engine(f"sqlite:///{db}")
    query = "SELECT count(*) FROM message WHERE :state IS NULL OR state = :state"
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(query), {"state": state}).scalar_one())
    except Exception:  # the schema may not exist yet while maild starts
        return 0
    finally:
        engine.dispose()


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
        eventually(lambda: count(db, "processed") == 5)
        imap_account.deliver([make_message(99, seed=40)])
        eventually(lambda: count(db, "processed") == 6)
        eventually(
            lambda: 'maild_messages_landed_total{direction="in",mailbox="shop"} 6.0' in scrape(port)
        )
        # The database says "processed" a moment before the worker reports its batch.
        eventually(
            lambda: 'maild_messages_processed_total{outcome="processed"} 6.0' in scrape(port)
        )
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=10)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.communicate()
    assert daemon.returncode == 0, err
    assert "maild stopped" in err


def stop_daemon(daemon: "subprocess.Popen[bytes]") -> float:
    """SIGTERM, then the seconds maild took to exit."""
    start = time.monotonic()
    daemon.send_signal(signal.SIGTERM)
    daemon.wait(timeout=30)
    return time.monotonic() - start


def test_sigterm_during_a_large_sync_exits_0_within_10_s_and_a_restart_finishes_it(
    imap_account: ImapAccount, tmp_path: Path
) -> None:
    imap_account.deliver(make_messages(5000, seed=41))
    config = write_config(tmp_path, mailbox_table(imap_account, fetch_batch=50))
    env = {**os.environ, password_variable("shop"): imap_account.password}
    db, log = tmp_path / "maild.db", tmp_path / "maild.log"
    daemon = start_daemon(config, env, log)
    try:
        eventually(lambda: count(db) >= 300)
        took = stop_daemon(daemon)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    assert daemon.returncode == 0, log.read_text()
    landed = count(db)
    print(f"SIGTERM: exited 0 after {took:.2f}s with {landed} of 5000 messages landed")
    assert took < 10.0
    assert landed < 5000, "the sync ended before SIGTERM; nothing was interrupted"
    assert "maild stopped" in log.read_text()

    again = subprocess.run(
        [sys.executable, "-m", "maild", "--config", str(config), "run", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert f"stored {5000 - landed} new" in again.stdout
    assert count(db) == 5000


def test_sighup_starts_an_added_mailbox_and_an_invalid_file_keeps_the_old_config(
    dovecot: DovecotServer, tmp_path: Path
) -> None:
    first, second = dovecot.new_account(), dovecot.new_account()
    first.deliver(make_messages(3, seed=42))
    second.deliver(make_messages(4, seed=43))
    one = mailbox_table(first, "first")
    config = write_config(tmp_path, one)
    env = {
        **os.environ,
        password_variable("first"): first.password,
        password_variable("second"): second.password,
    }
    db, log = tmp_path / "maild.db", tmp_path / "maild.log"
    daemon = start_daemon(config, env, log)
    try:
        eventually(lambda: count(db) == 3)
        write_config(tmp_path, one, mailbox_table(second, "second"))
        daemon.send_signal(signal.SIGHUP)
        eventually(lambda: count(db) == 7)
        assert "config reloaded added=1 removed=0 changed=0 unchanged=1" in log.read_text()

        config.write_text(config.read_text().replace("fetch_batch = 250", 'fetch_batch = "x"', 1))
        daemon.send_signal(signal.SIGHUP)
        eventually(lambda: "reload refused problems=1" in log.read_text())
        assert "mailboxes.first.imap.fetch_batch: expected an integer" in log.read_text()
        first.deliver([make_message(50, seed=44)])  # the running config still ingests
        second.deliver([make_message(51, seed=45)])
        eventually(lambda: count(db) == 9)
        assert stop_daemon(daemon) < 10.0
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    assert daemon.returncode == 0, log.read_text()
