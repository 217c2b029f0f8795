"""`maild run` killed with SIGKILL right after its gateway answered 250, then restarted: the
message was in the outbox before the 250, so it reaches the SMTP server exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from maild.cli import main
from tests.support.config_files import password_variable
from tests.support.dovecot import ImapAccount
from tests.support.gateway import (
    AGENT_PASSWORD,
    AGENT_VARIABLE,
    Agent,
    gateway_table,
    gateway_tls,
    reply_message,
)
from tests.support.outbox import (
    BUYER,
    CUSTOMER_ID,
    outbox_config,
    parsed,
    query,
    seed_customer_message,
)
from tests.support.smtp import HOST, HoldingHandler, free_port, threaded_smtp_server
from tests.support.waiting import until

pytestmark = pytest.mark.dovecot


def start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:  # a pipe nobody reads would block maild once full
        return subprocess.Popen(
            [sys.executable, "-m", "maild", "--config", str(config), "run"],
            env={**os.environ},
            stderr=sink,
        )


def listening(port: int) -> bool:
    try:
        socket.create_connection((HOST, port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.mark.timeout(90)
def test_maild_killed_right_after_250_relays_the_message_exactly_once_after_restart(
    imap_account: ImapAccount, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_customer_message(imap_account)
    monkeypatch.setenv(password_variable("shop"), imap_account.password)
    monkeypatch.setenv(AGENT_VARIABLE, AGENT_PASSWORD)
    tls = gateway_tls(tmp_path)
    port = free_port()
    handler = HoldingHandler()
    log = tmp_path / "maild.log"
    with threaded_smtp_server(handler) as upstream:
        config = outbox_config(imap_account, upstream, tmp_path)
        config.write_text(config.read_text() + gateway_table(tls, port))
        assert main(["--config", str(config), "run", "--once"]) == 0
        reply = reply_message("Your parcel left today.", to=BUYER, in_reply_to=CUSTOMER_ID)

        first = start(config, log)
        asyncio.run(until(lambda: listening(port), 30))
        agent = Agent(port, tls)
        agent.login()
        code, text = agent.send(reply)
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=10) == -signal.SIGKILL
        agent.smtp.close()
        assert code == 250, text
        [(state,)] = query(tmp_path, "SELECT state FROM outbox")
        handler.release.set()

        second = start(config, log)
        try:
            asyncio.run(
                until(lambda: query(tmp_path, "SELECT state FROM outbox") == [("sent",)], 30)
            )
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=20) == 0

    [accepted] = handler.accepted
    assert parsed(accepted.content)["In-Reply-To"] == CUSTOMER_ID
    assert state in {"queued", "sending"}
    print(f"SIGKILL after 250: outbox row was {state!r}; {len(handler.received)} DATA, 1 accepted")
