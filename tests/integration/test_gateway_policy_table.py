"""#8's policy table through the submission gateway: what `maild policy check` refuses, the
gateway refuses with 550 5.7.1 naming the rule; what it passes, the gateway queues."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from maild.config import load_config
from maild.gateway.metrics import GatewayMetrics
from maild.gateway.server import Listener
from maild.store import Store
from tests.support.gateway import (
    AGENT_PASSWORD,
    AGENT_VARIABLE,
    Agent,
    gateway_tls,
    reply_message,
    standalone_config,
)
from tests.support.outbox import query
from tests.unit.test_outbound_table import CASES, Case


def draft_message(case: Case) -> EmailMessage:
    message = reply_message(case.draft.text, html=case.draft.html)
    for index, attachment in enumerate(case.draft.attachments):
        maintype, subtype = attachment.content_type.split("/")
        message.add_attachment(
            bytes(attachment.size),
            maintype=maintype,
            subtype=subtype,
            filename=attachment.name or f"file-{index}",
        )
    return message


def now() -> datetime:
    return datetime.now(UTC)


@pytest.mark.timeout(120)
async def test_every_blocked_draft_is_refused_and_every_clean_one_queued(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILD_TEST_UNUSED_PASSWORD", "unused")
    monkeypatch.setenv(AGENT_VARIABLE, AGENT_PASSWORD)
    tls = gateway_tls(tmp_path)
    # Room for the table's 20 MB attachment, which the policy (not the size limit) refuses.
    limits = "max_message_bytes = 41943040\n"
    settings = load_config(standalone_config(tmp_path, tls, ("shop", 0, limits)))
    store = Store.open(settings.database.url)
    store.ensure_mailboxes({"shop": "support@shop.example"}, now())
    metrics = GatewayMetrics(CollectorRegistry())
    listener = Listener("shop", settings, store, now, metrics, on_queued=lambda: None)
    await listener.start()

    def send_all() -> list[tuple[Case, int, str]]:
        agent = Agent(listener.address[1], tls)
        agent.login()
        try:
            return [(case, *agent.send(draft_message(case))) for case in CASES]
        finally:
            agent.close()

    try:
        answers = await asyncio.to_thread(send_all)
    finally:
        await listener.stop(5.0)
        store.close()

    wrong = []
    for case, code, text in answers:
        if case.expect:
            named = all(f"{rule}:" in text for rule in case.expect)
            if code != 550 or not text.startswith("5.7.1") or not named:
                wrong.append((case.name, sorted(case.expect), code, text[:200]))
        elif code != 250:
            wrong.append((case.name, [], code, text[:200]))
    assert not wrong, wrong
    clean = sum(not case.expect for case in CASES)
    assert query(tmp_path, "SELECT count(*) FROM outbox WHERE state = 'queued'") == [(clean,)]
    refused = {rule for case in CASES for rule in case.expect}
    rows = query(tmp_path, "SELECT DISTINCT rule, origin FROM policy_refusal")
    assert set(rows) == {(rule, "gateway") for rule in refused}
