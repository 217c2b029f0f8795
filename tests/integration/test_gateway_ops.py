"""The gateway as an operated service: drain on stop, reload, readiness, implicit TLS, metrics."""

from __future__ import annotations

import asyncio
import smtplib
import sqlite3
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from maild.config import Settings, load_config
from maild.gateway.listeners import Gateways
from maild.gateway.metrics import GatewayMetrics
from maild.store import Store
from maild.store.outbox import OutboxRow, listing
from tests.support.gateway import (
    AGENT_PASSWORD,
    AGENT_VARIABLE,
    Agent,
    GatewayTls,
    gateway_tls,
    reply_message,
    send_logged_in,
    standalone_config,
)
from tests.support.outbox import query
from tests.support.prometheus import promtool
from tests.support.smtp import HOST, free_port
from tests.support.waiting import until

CLEAN = "Your order 112-1234567-1234567 ships today."


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GatewayTls:
    monkeypatch.setenv("MAILD_TEST_UNUSED_PASSWORD", "unused")
    monkeypatch.setenv(AGENT_VARIABLE, AGENT_PASSWORD)
    return gateway_tls(tmp_path)


@asynccontextmanager
async def gateways(
    settings: Settings, registry: CollectorRegistry | None = None, url: str | None = None
) -> AsyncIterator[Gateways]:
    store = Store.open(url or settings.database.url)
    store.ensure_mailboxes({n: m.address for n, m in settings.mailboxes.items()}, now())
    metrics = GatewayMetrics(registry or CollectorRegistry())
    running = Gateways(settings, store, now, metrics, on_queued=lambda: None, grace_s=10.0)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()
        store.close()


def port_of(running: Gateways, name: str = "shop") -> int:
    return running.listeners[name].address[1]


@pytest.mark.timeout(30)
async def test_stop_finishes_the_message_being_checked_and_answers_421_to_the_others(
    tls: GatewayTls, tmp_path: Path
) -> None:
    settings = load_config(standalone_config(tmp_path, tls, ("shop", 0, "")))
    async with gateways(settings) as running:
        listener = running.listeners["shop"]
        port = port_of(running)
        idle = await asyncio.to_thread(Agent, port, tls)
        await asyncio.to_thread(idle.login)
        # The test holds the database's write lock: the message waits in its INSERT.
        lock = sqlite3.connect(tmp_path / "maild.db", isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")

        def send() -> tuple[int, str]:
            agent = Agent(port, tls)
            agent.login()
            try:
                return agent.send(reply_message(CLEAN))
            finally:
                agent.close()

        sending = asyncio.create_task(asyncio.to_thread(send))
        await until(lambda: listener.checking == 1)
        stopping = asyncio.create_task(listener.stop(10.0))
        await asyncio.sleep(0)
        lock.execute("COMMIT")
        lock.close()
        code, text = await sending
        await stopping
        later = await asyncio.to_thread(idle.smtp.docmd, "NOOP")
        idle.smtp.close()
        running.listeners.clear()  # stopped by hand above

    assert code == 250 and text.startswith("2.0.0 Queued as <")
    assert query(tmp_path, "SELECT state FROM outbox") == [("queued",)]
    assert later[0] == 421
    with pytest.raises(OSError):
        smtplib.SMTP(HOST, port, timeout=5)


@pytest.mark.timeout(30)
async def test_reload_applies_new_passwords_and_addresses_and_stops_removed_listeners(
    tls: GatewayTls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = standalone_config(tmp_path, tls, ("shop", 0, ""), ("shop2", 0, ""))
    async with gateways(load_config(path)) as running:
        first_port = port_of(running, "shop2")
        monkeypatch.setenv(AGENT_VARIABLE, "a-new-password")
        moved = free_port()
        standalone_config(tmp_path, tls, ("shop", 0, ""), ("shop3", moved, ""))
        await running.configure(load_config(path))

        def logins() -> list[int]:
            agent = Agent(port_of(running, "shop"), tls)
            codes = [agent.login_plain(AGENT_PASSWORD), agent.login_plain("a-new-password")]
            agent.close()
            return codes

        assert await asyncio.to_thread(logins) == [535, 235]
        assert sorted(running.listeners) == ["shop", "shop3"]
        assert port_of(running, "shop3") == moved
        with pytest.raises(OSError):
            smtplib.SMTP(HOST, first_port, timeout=5)
        assert running.problems() == []


@pytest.mark.timeout(30)
async def test_a_listener_that_cannot_bind_is_named_by_readiness_and_the_others_run(
    tls: GatewayTls, tmp_path: Path
) -> None:
    taken = await asyncio.start_server(lambda r, w: None, HOST, 0)
    port = taken.sockets[0].getsockname()[1]
    try:
        settings = load_config(
            standalone_config(tmp_path, tls, ("shop", 0, ""), ("busy", port, ""))
        )
        async with gateways(settings) as running:
            problems = running.problems()
            assert sorted(running.listeners) == ["shop"]
    finally:
        taken.close()
        await taken.wait_closed()
    [problem] = problems
    assert problem.startswith("gateway busy: not listening:") and "in use" in problem


@pytest.mark.timeout(30)
async def test_implicit_tls_takes_a_login_from_the_first_command(
    tls: GatewayTls, tmp_path: Path
) -> None:
    path = standalone_config(tmp_path, tls, ("shop", 0, ""))
    path.write_text(path.read_text().replace('tls = "starttls"', 'tls = "implicit"'))
    async with gateways(load_config(path)) as running:

        def send() -> list[int]:
            agent = Agent(port_of(running), tls, implicit=True)
            codes = [agent.send(reply_message(CLEAN))[0]]
            agent.login()
            codes.append(agent.send(reply_message(CLEAN))[0])
            agent.close()
            return codes

        codes = await asyncio.to_thread(send)
    assert codes == [530, 250]


@pytest.mark.timeout(30)
async def test_gateway_metrics_pass_promtool_and_count_what_happened(
    tls: GatewayTls, tmp_path: Path
) -> None:
    registry = CollectorRegistry()
    settings = load_config(standalone_config(tmp_path, tls, ("shop", 0, "")))
    async with gateways(settings, registry) as running:

        def traffic() -> None:
            agent = Agent(port_of(running), tls)
            agent.login_plain("wrong")
            agent.login()
            agent.send(reply_message(CLEAN))
            agent.send(reply_message("Call me on +1 415-555-2671."))
            agent.send(reply_message(CLEAN, sender="boss@shop.example"))
            agent.close()

        await asyncio.to_thread(traffic)
    exposition = generate_latest(registry)
    done = promtool("check", "metrics", stdin=exposition)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(exposition.decode())
        for s in family.samples
        if s.name.endswith("_total")
    }

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted({"mailbox": "shop", **labels}.items())))]

    assert value("maild_gateway_connections_total") == 1
    assert value("maild_gateway_auth_failures_total") == 1
    assert value("maild_gateway_accepted_total") == 1
    assert value("maild_gateway_refused_total", rule="contact-info") == 1
    assert value("maild_gateway_refused_total", rule="sender") == 1
    assert value("maild_gateway_refused_total", rule="marketing") == 0


@pytest.mark.timeout(30)
async def test_an_agent_over_its_hourly_limit_is_deferred_with_450(
    tls: GatewayTls, tmp_path: Path
) -> None:
    path = standalone_config(tmp_path, tls, ("shop", 0, ""), max_per_hour=2)
    async with gateways(load_config(path)) as running:
        messages = [reply_message(CLEAN) for _ in range(3)]
        answers = await asyncio.to_thread(send_logged_in, port_of(running), tls, *messages)
    assert [code for code, _ in answers] == [250, 250, 450]
    assert query(tmp_path, "SELECT count(*) FROM outbox") == [(2,)]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("mode", ["starttls", "implicit"])
async def test_reload_serves_a_renewed_certificate_from_the_same_files(
    tls: GatewayTls, tmp_path: Path, mode: str
) -> None:
    path = standalone_config(tmp_path, tls, ("shop", 0, ""))
    path.write_text(path.read_text().replace('tls = "starttls"', f'tls = "{mode}"'))
    old_ca = tmp_path / "old-ca.pem"
    old_ca.write_bytes(tls.ca_pem.read_bytes())
    async with gateways(load_config(path)) as running:
        renewed = gateway_tls(tmp_path)  # new CA and certificate, in the same files
        await running.configure(load_config(path))

        def connect(trusted: GatewayTls) -> None:
            agent = Agent(port_of(running), trusted, implicit=mode == "implicit")
            agent.login()
            agent.close()

        await asyncio.to_thread(connect, renewed)
        with pytest.raises(ssl.SSLCertVerificationError):
            await asyncio.to_thread(connect, replace(tls, ca_pem=old_ca))


@pytest.mark.timeout(30)
async def test_a_message_submitted_again_after_a_lost_250_is_queued_once(
    tls: GatewayTls, tmp_path: Path, database_url: str
) -> None:
    """A client whose connection dropped before the 250 sends the same Message-ID again."""
    settings = load_config(standalone_config(tmp_path, tls, ("shop", 0, "")))
    message = reply_message(CLEAN)
    message["Message-ID"] = "<again-1@shop.example>"
    async with gateways(settings, url=database_url) as running:
        port = port_of(running)
        answers = await asyncio.to_thread(send_logged_in, port, tls, message, message)
        store = Store.open(database_url)
        try:
            rows = store.run(lambda session: listing(session, ("queued",)))
        finally:
            store.close()
    assert [code for code, _ in answers] == [250, 250]
    assert answers[0][1] == answers[1][1] == "2.0.0 Queued as <again-1@shop.example>"
    assert [row.message_id for row in rows] == ["<again-1@shop.example>"]


@pytest.mark.timeout(30)
async def test_recipients_past_the_hundredth_get_452_and_the_first_hundred_get_the_message(
    tls: GatewayTls, tmp_path: Path
) -> None:
    settings = load_config(standalone_config(tmp_path, tls, ("shop", 0, "")))

    def one_message_to_101(port: int) -> tuple[list[int], int]:
        agent = Agent(port, tls)
        agent.login()
        try:
            agent.smtp.mail("support@shop.example")
            codes = [agent.smtp.rcpt(f"buyer{i}@buyers.example")[0] for i in range(101)]
            code, _ = agent.smtp.data(reply_message(CLEAN).as_bytes())
            return codes, code
        finally:
            agent.close()

    async with gateways(settings) as running:
        codes, data_code = await asyncio.to_thread(one_message_to_101, port_of(running))
        [row] = running_store_rows(settings)
    assert codes == [250] * 100 + [452]
    assert data_code == 250
    assert row.recipients == tuple(f"buyer{i}@buyers.example" for i in range(100))


def running_store_rows(settings: Settings) -> list[OutboxRow]:
    store = Store.open(settings.database.url)
    try:
        return store.run(lambda session: listing(session, ("queued",)))
    finally:
        store.close()


@pytest.mark.timeout(30)
async def test_instances_sharing_postgresql_share_the_gateway_port_and_sqlite_refuses(
    tls: GatewayTls, tmp_path: Path, fresh_postgres_url: str
) -> None:
    port = free_port()
    settings = load_config(standalone_config(tmp_path, tls, ("shop", port, "")))
    pg = fresh_postgres_url
    async with gateways(settings, url=pg) as first, gateways(settings, url=pg) as second:
        shared = (first.problems(), second.problems(), port_of(second))
        answers = await asyncio.to_thread(send_logged_in, port, tls, reply_message(CLEAN))
    assert shared == ([], [], port)
    assert [code for code, _ in answers] == [250]
    async with gateways(settings) as first, gateways(settings) as second:
        problems = (first.problems(), second.problems())
    assert problems[0] == []
    [problem] = problems[1]
    assert "in use" in problem
