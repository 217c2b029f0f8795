"""A sync killed at any instant and restarted ends with every message exactly once."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.support.config_files import mailbox_table, password_variable, write_config
from tests.support.dovecot import ImapAccount
from tests.support.mailgen import make_messages

pytestmark = [pytest.mark.dovecot, pytest.mark.slow]

MESSAGES = 5000
KILLS = 20


def start_sync(
    config: Path, env: dict[str, str], *, capture: bool = False
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "maild", "--config", str(config), "run", "--once"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE if capture else subprocess.DEVNULL,
        start_new_session=True,
    )


def live_processes_in_group(group: int) -> list[int]:
    """Processes of a process group that are still running (zombies do not count)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def leftover_workers(group: int) -> list[int]:
    """Parse workers of a killed run must die with it, not linger as orphans."""
    deadline = time.monotonic() + 10
    while (alive := live_processes_in_group(group)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


def counts(db: Path) -> tuple[int, int, int]:
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as connection:
        messages = connection.execute(text("SELECT count(*) FROM message")).scalar_one()
        distinct = connection.execute(
            text("SELECT count(DISTINCT message_id) FROM message")
        ).scalar_one()
        locations = connection.execute(text("SELECT count(*) FROM message_location")).scalar_one()
    engine.dispose()
    return messages, distinct, locations


def test_sigkill_at_random_moments_then_restart_yields_each_message_once(
    imap_account: ImapAccount, tmp_path: Path
) -> None:
    imap_account.deliver(make_messages(MESSAGES, seed=11))
    db = tmp_path / "maild.db"
    # One message a fetch: landing then takes longer than the runs that are killed, so
    # every kill falls during the sync (with batches of 50 the folder had landed after
    # two runs, and later kills found runs with nothing left to do already done).
    config = write_config(tmp_path, mailbox_table(imap_account, fetch_batch=1))
    env = {**os.environ, password_variable("shop"): imap_account.password}
    rng = random.Random(20261123)
    killed_mid_run = 0
    orphans: list[int] = []
    for _ in range(KILLS):
        process = start_sync(config, env)
        # A random instant in the life of one run: start-up, fetch, commit or processing.
        time.sleep(rng.uniform(0.2, 1.6))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed_mid_run += 1
        process.wait(timeout=30)
        orphans += leftover_workers(process.pid)
    final = start_sync(config, env, capture=True)
    _, err = final.communicate(timeout=120)
    assert final.returncode == 0, err.decode()
    assert killed_mid_run >= KILLS * 3 // 4, killed_mid_run
    assert orphans == []
    assert counts(db) == (MESSAGES, MESSAGES, MESSAGES)
