"""Three `maild run` on one PostgreSQL database share twelve mailboxes, and survive a SIGKILL.

Each mailbox is owned by one instance at a time (a lease); every message is stored
once, every reply sent once, and a killed instance's mailboxes are taken over within
two lease periods, new mail included.
"""

import os
import re
import signal
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from maild.outbound.compose import Outgoing, compose
from maild.store import Store
from maild.store import outbox as rows
from tests.support.config_files import mailbox_table, password_variable
from tests.support.daemons import eventually, scrape, start_daemon
from tests.support.dovecot import DovecotServer, ImapAccount
from tests.support.mailgen import make_message, make_messages
from tests.support.outbox import seed_customer_message
from tests.support.postgres import throwaway_database
from tests.support.smtp import RecordingSMTPServer, free_port, threaded_smtp_server

pytestmark = [pytest.mark.dovecot, pytest.mark.postgres, pytest.mark.slow]

MAILBOXES = 12
PER_MAILBOX = 500
INSTANCES = 3
LEASE_S = 3.0
OWNED = re.compile(r'^maild_lease_owned\{folder="INBOX",mailbox="([^"]+)",owner="[^"]+"\} 1\.0$')


@pytest.fixture
def database() -> Iterator[str]:
    with throwaway_database() as url:
        yield url


def sql(url: str, query: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            return [tuple(row) for row in connection.execute(text(query))]
    except Exception:  # the schema may not exist yet while the instances start
        return []
    finally:
        engine.dispose()


def inbound(url: str) -> tuple[int, int]:
    """Inbound messages stored, and how many distinct (mailbox, Message-ID) they are."""
    found = sql(
        url,
        "SELECT count(*), count(DISTINCT (mailbox_id, message_id)) FROM message"
        " WHERE direction = 'in'",
    )
    return (int(str(found[0][0])), int(str(found[0][1]))) if found else (0, 0)


def owners(url: str) -> dict[str, str]:
    """Mailbox -> owner of its live lease."""
    found = sql(
        url,
        "SELECT m.name, l.owner FROM mailbox_lease l JOIN mailbox m ON m.id = l.mailbox_id"
        " WHERE l.owner IS NOT NULL AND l.expires_at > now()",
    )
    return {str(name): str(owner) for name, owner in found}


def balanced(url: str, live: int) -> bool:
    held = owners(url)
    share = -(-MAILBOXES // live)
    counts = Counter(held.values())
    return len(held) == MAILBOXES and len(counts) == live and max(counts.values()) <= share


def config(
    directory: Path, url: str, accounts: list[ImapAccount], smtp: RecordingSMTPServer, port: int
) -> Path:
    tables = [
        mailbox_table(account, f"shop-{n:02}", preset="amazon").replace(
            "fetch_batch", 'sent_folder = ""\nfetch_batch'
        )
        + f'\n[mailboxes.shop-{n:02}.smtp]\nhost = "{smtp.host}"\nport = {smtp.port}\n'
        'security = "none"\n'
        for n, account in enumerate(accounts)
    ]
    directory.mkdir()
    path = directory / "maild.toml"
    path.write_text(
        f'[database]\nurl = "{url}"\nlease_period_s = {LEASE_S}\n'
        f'\n[metrics]\nlisten = "127.0.0.1:{port}"\n'
        "\n[outbox]\nretry_initial_s = 0.01\npoll_interval_s = 0.2\n\n" + "\n".join(tables)
    )
    return path


def queue_replies(url: str, tag: str) -> set[str]:
    """One reply per mailbox through the outbox; their Message-IDs."""
    store = Store.attach(url)
    ids: set[str] = set()
    try:
        for n in range(MAILBOXES):
            message_id = f"<{tag}-{n}@shop.example>"
            raw = compose(
                Outgoing("support@shop.example", ("b@buyers.example",), "Re: lamp", "On its way."),
                message_id,
                datetime.now(UTC),
            )
            store.run(
                partial(
                    rows.enqueue,
                    mailbox=f"shop-{n:02}",
                    thread_id=None,
                    order_id=None,
                    message_id=message_id,
                    raw=raw,
                    sender="support@shop.example",
                    recipients=("b@buyers.example",),
                    subject="Re: lamp",
                    now=datetime.now(UTC),
                )
            )
            ids.add(message_id)
    finally:
        store.close()
    return ids


def sent_ids(smtp: RecordingSMTPServer) -> list[str]:
    found = [re.search(rb"(?im)^message-id:\s*(\S+)", m.content) for m in smtp.handler.accepted]
    return [match.group(1).decode() for match in found if match]


def taken_at(url: str, mailboxes: set[str]) -> datetime:
    """When the last of ``mailboxes`` was taken by its present owner (stored as UTC)."""
    found = sql(
        url,
        "SELECT m.name, l.acquired_at FROM mailbox_lease l JOIN mailbox m ON m.id = l.mailbox_id",
    )
    taken = [when for name, when in found if name in mailboxes and isinstance(when, datetime)]
    assert len(taken) == len(mailboxes)
    return max(taken).replace(tzinfo=UTC)


def owned_in_metrics(ports: list[int]) -> Counter[str]:
    return Counter(
        match.group(1)
        for port in ports
        for line in scrape(port).splitlines()
        if (match := OWNED.match(line))
    )


# Three daemons, each loading the classifier and parsing on every core of a CI machine.
@pytest.mark.timeout(300)
def test_three_instances_share_mailboxes_and_take_over_from_a_killed_one(
    dovecot: DovecotServer, database: str, tmp_path: Path
) -> None:
    accounts = [dovecot.new_account() for _ in range(MAILBOXES)]
    for n, account in enumerate(accounts):
        account.deliver(make_messages(PER_MAILBOX, seed=900 + n))
    env = {**os.environ}
    env.update({password_variable(f"shop-{n:02}"): a.password for n, a in enumerate(accounts)})
    with threaded_smtp_server() as smtp:
        ports = [free_port() for _ in range(INSTANCES)]
        configs = [
            config(tmp_path / f"i{i}", database, accounts, smtp, port)
            for i, port in enumerate(ports)
        ]
        daemons = [start_daemon(c, env, c.parent / "maild.log") for c in configs]
        try:
            took = eventually(lambda: inbound(database)[0] == MAILBOXES * PER_MAILBOX, 60)
            print(
                f"{MAILBOXES * PER_MAILBOX} messages stored by {INSTANCES} instances in {took:.1f}s"
            )
            assert inbound(database) == (MAILBOXES * PER_MAILBOX,) * 2
            eventually(lambda: balanced(database, INSTANCES), 10)
            eventually(lambda: owned_in_metrics(ports) == Counter({n: 1 for n in owners(database)}))

            replies = queue_replies(database, "before")
            eventually(lambda: set(sent_ids(smtp)) >= replies)

            victim_name = f":{daemons[0].pid}"
            victims = {m for m, owner in owners(database).items() if owner.endswith(victim_name)}
            assert victims
            daemons[0].send_signal(signal.SIGKILL)
            daemons[0].wait()
            killed, killed_at = time.monotonic(), datetime.now(UTC)
            for n, account in enumerate(accounts):
                seed_customer_message(account, make_message(PER_MAILBOX + 1, seed=900 + n))
            replies |= queue_replies(database, "after")

            def survivors_own_all() -> bool:
                held = owners(database)
                return len(held) == MAILBOXES and not any(
                    owner.endswith(victim_name) for owner in held.values()
                )

            eventually(survivors_own_all, 3 * LEASE_S)
            takeover = (taken_at(database, victims) - killed_at).total_seconds()
            eventually(lambda: inbound(database)[0] == MAILBOXES * (PER_MAILBOX + 1), 10)
            arrived = time.monotonic() - killed
            eventually(lambda: set(sent_ids(smtp)) >= replies)
            print(
                f"killed instance owned {len(victims)} mailboxes; taken over after"
                f" {takeover:.1f}s, new mail stored {arrived:.1f}s after the kill"
            )
            assert takeover < 2 * LEASE_S
            assert arrived < 2 * LEASE_S + 3  # the taker's first sync after the takeover
            assert inbound(database) == (MAILBOXES * (PER_MAILBOX + 1),) * 2
            assert balanced(database, INSTANCES - 1)
            assert sorted(sent_ids(smtp)) == sorted(replies)  # each exactly once
            for daemon in daemons[1:]:
                daemon.send_signal(signal.SIGTERM)
            # Each lands what it fetched and finishes the parse batches in flight first.
            stopping = time.monotonic()
            for daemon in daemons[1:]:
                assert daemon.wait(timeout=60) == 0
            print(f"survivors stopped in {time.monotonic() - stopping:.1f}s")
        finally:
            for daemon in daemons:
                if daemon.poll() is None:
                    daemon.kill()
                    daemon.wait()
    assert sql(database, "SELECT count(*) FROM mailbox_lease WHERE owner IS NOT NULL") == [(0,)]
