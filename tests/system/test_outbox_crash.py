"""`maild run` killed with SIGKILL in the middle of sending, then restarted: the reply
reaches the SMTP server exactly once (the outbox's at-most-once protocol)."""

import asyncio
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from maild.cli import main
from tests.support.config_files import password_variable
from tests.support.dovecot import ImapAccount
from tests.support.outbox import ORDER, outbox_config, parsed, query, seed_customer_message
from tests.support.smtp import HoldingHandler, free_port, threaded_smtp_server
from tests.support.waiting import until

pytestmark = pytest.mark.dovecot


def start(config: Path, env: dict[str, str], log: Path) -> "subprocess.Popen[bytes]":
    with log.open("ab") as sink:  # a pipe nobody reads would block maild once full
        return subprocess.Popen(
            [sys.executable, "-m", "maild", "--config", str(config), "run"], env=env, stderr=sink
        )


def outbox_state(tmp_path: Path) -> str:
    [(state,)] = query(tmp_path, "SELECT state FROM outbox")
    return str(state)


@pytest.mark.timeout(90)
def test_maild_killed_while_sending_sends_the_reply_exactly_once_after_restart(
    imap_account: ImapAccount, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_customer_message(imap_account)
    handler = HoldingHandler()
    with threaded_smtp_server(handler) as server:
        metrics_port = free_port()
        config = outbox_config(imap_account, server, tmp_path, metrics_port=metrics_port)
        monkeypatch.setenv(password_variable("shop"), imap_account.password)
        assert main(["--config", str(config), "run", "--once"]) == 0
        [(thread,)] = query(tmp_path, "SELECT id FROM thread")
        queued = main(["--config", str(config), "reply", str(thread), "--template", "follow-up-en"])
        assert queued == 0 and outbox_state(tmp_path) == "queued"
        env = {**os.environ}
        log = tmp_path / "maild.log"

        first = start(config, env, log)
        asyncio.run(until(handler.holding.is_set, 30))
        assert outbox_state(tmp_path) == "sending"
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=10) == -signal.SIGKILL
        handler.release.set()

        second = start(config, env, log)
        try:
            asyncio.run(until(lambda: outbox_state(tmp_path) == "sent", 30))
            url = f"http://127.0.0.1:{metrics_port}/metrics"
            with urllib.request.urlopen(url, timeout=5) as response:
                scraped = response.read().decode()
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=20) == 0

    assert len(handler.accepted) == 1
    message = parsed(handler.accepted[0].content)
    assert f"order {ORDER}" in message.get_content()
    assert query(tmp_path, "SELECT attempts, copied_at IS NOT NULL FROM outbox") == [(2, 1)]
    assert "interrupted attempt recovered" in log.read_text()
    assert 'maild_outbound_sent_total{mailbox="shop"} 1.0' in scraped
    print(f"SIGKILL mid-send: {len(handler.received)} DATA transaction(s), 1 accepted")
