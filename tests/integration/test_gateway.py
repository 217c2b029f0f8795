"""The submission gateway end to end: smtplib (STARTTLS + AUTH) against the daemon, which
relays through the recording aiosmtpd server upstream and files the copy in Dovecot's Sent."""

from __future__ import annotations

import asyncio
import base64
import json
import smtplib
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from maild.cli import main
from maild.config import Secret, load_config
from maild.daemon import Daemon
from maild.gateway.listeners import Gateways
from maild.gateway.metrics import GatewayMetrics
from maild.metrics import Metrics
from maild.store import Store
from tests.support.config_files import password_variable
from tests.support.dovecot import ImapAccount
from tests.support.gateway import (
    AGENT_PASSWORD,
    AGENT_VARIABLE,
    Agent,
    GatewayTls,
    gateway_table,
    gateway_tls,
    reply_message,
    send_logged_in,
)
from tests.support.outbox import (
    BUYER,
    CUSTOMER_ID,
    ORDER,
    append_to_sent,
    outbox_config,
    parsed,
    query,
    seed_customer_message,
    sent_folder_ids,
)
from tests.support.smtp import HOST, RecordingHandler, RecordingSMTPServer, threaded_smtp_server
from tests.support.waiting import until

pytestmark = pytest.mark.dovecot

Scenario = Callable[[Daemon, int], Awaitable[None]]
Answer = tuple[int, str]


def utcnow() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def upstream() -> Iterator[RecordingSMTPServer]:
    with threaded_smtp_server(RecordingHandler()) as server:
        yield server


@pytest.fixture
def tls(tmp_path: Path) -> GatewayTls:
    return gateway_tls(tmp_path)


@pytest.fixture
def config(
    imap_account: ImapAccount,
    upstream: RecordingSMTPServer,
    tls: GatewayTls,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """maild with a gateway on a free port, the customer's question synced and waiting."""
    seed_customer_message(imap_account)
    monkeypatch.setenv(password_variable("shop"), imap_account.password)
    monkeypatch.setenv(AGENT_VARIABLE, AGENT_PASSWORD)
    path = outbox_config(imap_account, upstream, tmp_path)
    limits = "max_auth_failures = 3\n"
    path.write_text(path.read_text() + gateway_table(tls, 0, extra=limits))
    assert main(["--config", str(path), "run", "--once"]) == 0
    return path


def run_daemon(config: Path, scenario: Scenario) -> None:
    """Run the daemon, give ``scenario`` the gateway's port, then stop it cleanly."""
    settings = load_config(config)

    async def run() -> None:
        store = Store.open(settings.database.url)
        metrics = Metrics(CollectorRegistry())
        daemon = Daemon(settings, store, utcnow, metrics, load=lambda: load_config(config))
        task = asyncio.create_task(daemon.run())
        try:
            await until(lambda: "shop" in daemon.gateways.listeners)
            await scenario(daemon, daemon.gateways.listeners["shop"].address[1])
        finally:
            daemon.stop()
            async with asyncio.timeout(20):
                await task
            store.close()

    asyncio.run(run())


def thread_of_order(config: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    capsys.readouterr()
    assert main(["--config", str(config), "threads", "--order-id", ORDER, "--json"]) == 0
    [found] = json.loads(capsys.readouterr().out)
    assert isinstance(found, dict)
    return found


def outbox_rows(tmp_path: Path) -> list[tuple[object, ...]]:
    return query(tmp_path, "SELECT state, copied_at IS NOT NULL FROM outbox")


def order_reply() -> EmailMessage:
    return reply_message(
        f"Hello Alice, your order {ORDER} left our warehouse today.",
        to=BUYER,
        subject=f"Re: Where is my order {ORDER}?",
        in_reply_to=CUSTOMER_ID,
    )


def relay(config: Path, tls: GatewayTls, tmp_path: Path, reply: EmailMessage) -> list[Answer]:
    """Submit ``reply`` to the running daemon's gateway; its answer, once it is sent."""
    answers: list[Answer] = []

    async def scenario(daemon: Daemon, port: int) -> None:
        answers.extend(await asyncio.to_thread(send_logged_in, port, tls, reply))
        await until(lambda: outbox_rows(tmp_path) == [("sent", 1)], 30)

    run_daemon(config, scenario)
    return answers


@pytest.mark.timeout(60)
def test_a_clean_reply_is_relayed_once_threaded_filed_in_sent_and_answers_the_conversation(
    config: Path,
    tls: GatewayTls,
    upstream: RecordingSMTPServer,
    imap_account: ImapAccount,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert thread_of_order(config, capsys)["state"] == "response-needed"
    reply = order_reply()
    reply["Message-ID"] = "<client-1@shop.example>"

    answers = relay(config, tls, tmp_path, reply)

    assert answers == [(250, "2.0.0 Queued as <client-1@shop.example>")]
    [received] = upstream.handler.accepted
    assert received.rcpt_tos == (BUYER,) and received.mail_from == "support@shop.example"
    relayed = parsed(received.content)
    assert relayed["Message-ID"] == "<client-1@shop.example>"
    assert relayed["In-Reply-To"] == CUSTOMER_ID and relayed["References"] == CUSTOMER_ID
    assert sent_folder_ids(imap_account) == ["<client-1@shop.example>"]
    thread = thread_of_order(config, capsys)
    assert thread["state"] == "answered" and thread["messages"] == 2
    # The client files its own copy in Sent too (with a header of its own): the same
    # reply by Message-ID, not a second one, and nothing is sent again.
    append_to_sent(imap_account, b"X-Client-Copy: yes\r\n" + reply.as_bytes())
    assert main(["--config", str(config), "run", "--once"]) == 0
    assert thread_of_order(config, capsys)["messages"] == 2
    assert len(upstream.handler.received) == 1


@pytest.mark.timeout(60)
def test_a_blind_copy_is_delivered_but_no_recipient_sees_the_bcc_field(
    config: Path, tls: GatewayTls, upstream: RecordingSMTPServer, tmp_path: Path
) -> None:
    reply = order_reply()
    # Long enough that it is folded over two lines.
    reply["Bcc"] = "Team Lead of the Lamp Shop <lead@shop.example>, Audit <audit@shop.example>"

    answers = relay(config, tls, tmp_path, reply)

    assert [code for code, _ in answers] == [250]
    [received] = upstream.handler.accepted
    assert received.rcpt_tos == (BUYER, "lead@shop.example", "audit@shop.example")
    relayed = parsed(received.content)
    assert b"\n " in reply.as_bytes().split(b"Bcc:")[1].split(b"Subject")[0]
    assert relayed["Bcc"] is None
    assert b"lead@" not in received.content and b"audit@" not in received.content
    assert relayed["To"] == BUYER and relayed["In-Reply-To"] == CUSTOMER_ID


def blocked(daemon: Daemon) -> float | None:
    return daemon._metrics.registry.get_sample_value(
        "maild_outbound_blocked_total", {"mailbox": "shop", "rule": "external-link"}
    )


@pytest.mark.timeout(60)
def test_an_obfuscated_link_is_refused_naming_rule_and_text_and_nothing_goes_upstream(
    config: Path, tls: GatewayTls, upstream: RecordingSMTPServer, tmp_path: Path
) -> None:
    draft = reply_message(f"Order {ORDER}: track it at shop-tracking[.]com/p/112 please.")
    answers: list[tuple[int, str]] = []

    async def scenario(daemon: Daemon, port: int) -> None:
        answers.extend(await asyncio.to_thread(send_logged_in, port, tls, draft))
        await until(lambda: blocked(daemon) == 1)

    run_daemon(config, scenario)

    [(code, text)] = answers
    assert code == 550 and text.startswith("5.7.1 ")
    assert 'external-link: external link "shop-tracking[.]com/p/112" (the text, characters' in text
    assert query(tmp_path, "SELECT count(*) FROM outbox") == [(0,)]
    assert query(tmp_path, "SELECT rule, origin FROM policy_refusal") == [
        ("external-link", "gateway")
    ]
    assert upstream.handler.received == []


@pytest.mark.timeout(60)
def test_a_sender_address_the_agent_may_not_use_is_refused(
    config: Path, tls: GatewayTls, upstream: RecordingSMTPServer, tmp_path: Path
) -> None:
    clean = f"Your order {ORDER} ships today."
    answers: list[tuple[int, str]] = []

    async def scenario(daemon: Daemon, port: int) -> None:
        def send() -> None:
            agent = Agent(port, tls)
            agent.login()
            answers.append(agent.send(reply_message(clean, sender="boss@shop.example")))
            # An allowed envelope cannot carry a From the agent may not use.
            forged = reply_message(clean, sender="ceo@shop.example")
            answers.append(agent.send(forged, sender="support@shop.example"))
            answers.append(agent.send(reply_message(clean, sender="alice@shop.example")))
            agent.close()

        await asyncio.to_thread(send)

    run_daemon(config, scenario)

    refused_mail, refused_data, accepted = answers
    assert (
        refused_mail[0] == 550 and "5.7.1 You may not send as boss@shop.example" in refused_mail[1]
    )
    assert refused_data[0] == 550 and "ceo@shop.example" in refused_data[1]
    assert accepted[0] == 250
    assert query(tmp_path, "SELECT sender FROM outbox") == [("alice@shop.example",)]


@pytest.mark.timeout(60)
def test_auth_before_starttls_is_refused_and_not_even_offered(config: Path) -> None:
    answers: list[tuple[int, bytes]] = []
    offered: list[bool] = []

    async def scenario(daemon: Daemon, port: int) -> None:
        def send() -> None:
            client = smtplib.SMTP(HOST, port, timeout=30)
            client.ehlo()
            offered.append(client.has_extn("auth"))
            login = base64.b64encode(f"\0alice\0{AGENT_PASSWORD}".encode()).decode()
            answers.append(client.docmd("AUTH", f"PLAIN {login}"))
            answers.append(client.docmd("MAIL", "FROM:<support@shop.example>"))
            client.quit()

        await asyncio.to_thread(send)

    run_daemon(config, scenario)

    assert offered == [False]
    assert [code for code, _ in answers] == [530, 530]
    assert b"STARTTLS" in answers[0][1]


@pytest.mark.timeout(60)
def test_a_wrong_password_is_refused_and_repeated_failures_are_throttled(
    config: Path, tls: GatewayTls
) -> None:
    codes: list[int] = []
    scraped: list[float | None] = []

    async def scenario(daemon: Daemon, port: int) -> None:
        def send() -> None:
            agent = Agent(port, tls)
            codes.extend(
                agent.login_plain(password)
                for password in ("wrong-1", "wrong-2", "wrong-3", AGENT_PASSWORD)
            )
            agent.close()
            # Another connection from the same address is throttled as well.
            again = Agent(port, tls)
            codes.append(again.login_plain(AGENT_PASSWORD))
            again.close()

        await asyncio.to_thread(send)
        registry = daemon.gateways.listeners["shop"]._metrics
        assert registry is not None
        scraped.append(
            daemon._metrics.registry.get_sample_value(
                "maild_gateway_auth_failures_total", {"mailbox": "shop"}
            )
        )

    run_daemon(config, scenario)

    assert codes == [535, 535, 535, 454, 454]
    assert scraped == [5.0]


@pytest.mark.timeout(60)
def test_sighup_gives_the_running_gateway_a_changed_agent_password(
    config: Path, tls: GatewayTls, monkeypatch: pytest.MonkeyPatch
) -> None:
    codes: list[int] = []

    async def scenario(daemon: Daemon, port: int) -> None:
        monkeypatch.setenv(AGENT_VARIABLE, "the-new-password")
        daemon.reload()
        listener = daemon.gateways.listeners["shop"]
        await until(lambda: listener.gateway.agents["alice"].password == Secret("the-new-password"))

        def logins() -> None:
            agent = Agent(port, tls)
            codes.extend([agent.login_plain(AGENT_PASSWORD), agent.login_plain("the-new-password")])
            agent.close()

        await asyncio.to_thread(logins)
        assert daemon.gateways.listeners["shop"] is listener  # same socket, not rebound

    run_daemon(config, scenario)

    assert codes == [535, 235]


@pytest.mark.timeout(60)
def test_a_client_copy_in_sent_ingested_before_maild_relays_is_the_same_reply(
    config: Path,
    tls: GatewayTls,
    upstream: RecordingSMTPServer,
    imap_account: ImapAccount,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Thunderbird files its copy in Sent right after the 250, maybe before maild sends."""
    reply = reply_message(
        f"Your order {ORDER} ships today.",
        to=BUYER,
        subject="Re: Where is my order?",
        in_reply_to=CUSTOMER_ID,
    )
    reply["Message-ID"] = "<client-2@shop.example>"
    settings = load_config(config)

    async def accept_only() -> list[tuple[int, str]]:
        store = Store.open(settings.database.url)
        running = Gateways(
            settings,
            store,
            utcnow,
            GatewayMetrics(CollectorRegistry()),
            on_queued=lambda: None,
            grace_s=5.0,
        )
        await running.start()
        try:
            port = running.listeners["shop"].address[1]
            return await asyncio.to_thread(send_logged_in, port, tls, reply)
        finally:
            await running.stop()
            store.close()

    [(code, _)] = asyncio.run(accept_only())
    assert code == 250
    append_to_sent(imap_account, b"X-Client-Copy: yes\r\n" + reply.as_bytes())

    # One run: Sent is synced (the client's copy lands) before the outbox is sent.
    assert main(["--config", str(config), "run", "--once"]) == 0

    assert len(upstream.handler.accepted) == 1
    assert query(tmp_path, "SELECT count(*) FROM message WHERE direction = 'out'") == [(1,)]
    thread = thread_of_order(config, capsys)
    assert thread["state"] == "answered" and thread["messages"] == 2
    assert sent_folder_ids(imap_account) == ["<client-2@shop.example>"]
