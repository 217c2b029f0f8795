"""Accepted messages/s through the submission gateway (policy on) next to a direct send.

    PYTHONPATH=. .venv/bin/python bench/gateway.py [--count 300] [--rounds 3]

#11 asks for the gateway's cost, measured in the same run: one agent on one
connection (STARTTLS, AUTH PLAIN) sends ``--count`` clean replies of about 500
characters through maild's gateway, which parses each, checks it with the Amazon
mailbox's policy and commits it to the outbox (SQLite, WAL) before its 250; the
same messages then go straight to the recording aiosmtpd server over plain SMTP,
as the outbox sender would relay them. Rounds alternate the two, so machine noise
hits both alike; medians and their ratio are printed and written to
``bench/results/gateway-TIMESTAMP.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import smtplib
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

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
from tests.support.smtp import HOST, threaded_smtp_server

_TEXT = (
    "Hi Emma, thank you for contacting us about order 112-{n:07d}-1234567. We are sorry "
    "the item arrived damaged. A replacement shipped today with UPS; it should arrive "
    "within 3-5 business days. We have also refunded the shipping cost, which you will "
    "see in Your Orders on amazon.com within two days. If anything else is wrong, please "
    "reply to this message and we will help. Kind regards, the Acme Home team."
)


def _messages(count: int, offset: int) -> list[EmailMessage]:
    found = []
    for n in range(offset, offset + count):
        message = reply_message(_TEXT.format(n=n), subject="Re: Your order")
        message["Message-ID"] = f"<bench-{n}@shop.example>"
        found.append(message)
    return found


def _timed(send: Callable[[EmailMessage], int], messages: list[EmailMessage]) -> float:
    start = time.perf_counter()
    for message in messages:
        code = send(message)
        if code != 250:
            raise SystemExit(f"a clean message was answered {code}")
    return len(messages) / (time.perf_counter() - start)


def _now() -> datetime:
    return datetime.now(UTC)


async def _run(count: int, rounds: int, directory: Path) -> dict[str, object]:
    os.environ["MAILD_TEST_UNUSED_PASSWORD"] = "unused"  # noqa: S105 - never used to log in
    os.environ[AGENT_VARIABLE] = AGENT_PASSWORD
    tls = gateway_tls(directory)
    limits = "max_message_bytes = 1048576\n"
    settings = load_config(
        standalone_config(directory, tls, ("shop", 0, limits), max_per_hour=100_000)
    )
    store = Store.open(settings.database.url)
    store.ensure_mailboxes({"shop": "support@shop.example"}, _now())
    listener = Listener(
        "shop", settings, store, _now, GatewayMetrics(CollectorRegistry()), on_queued=lambda: None
    )
    await listener.start()
    gateway: list[float] = []
    direct: list[float] = []
    try:
        with threaded_smtp_server() as sink:

            def one_round(index: int) -> None:
                messages = _messages(count, index * count)
                agent = Agent(listener.address[1], tls)
                agent.login()
                gateway.append(_timed(lambda m: agent.send(m)[0], messages))
                agent.close()
                plain = smtplib.SMTP(HOST, sink.port, timeout=30)
                plain.ehlo()

                def straight(message: EmailMessage) -> int:
                    raw = message.as_bytes(policy=SMTP)
                    plain.sendmail("support@shop.example", ["alice@buyers.example"], raw)
                    return 250

                direct.append(_timed(straight, messages))
                plain.quit()

            for index in range(rounds):
                await asyncio.to_thread(one_round, index)
    finally:
        await listener.stop(5.0)
        store.close()
    through, straight_rate = statistics.median(gateway), statistics.median(direct)
    return {
        "count": count,
        "rounds": rounds,
        "gateway_msgs_per_s": round(through, 1),
        "direct_msgs_per_s": round(straight_rate, 1),
        "ratio": round(through / straight_rate, 3),
        "gateway_rounds": [round(r, 1) for r in gateway],
        "direct_rounds": [round(r, 1) for r in direct],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # as maild.logs has it
    with tempfile.TemporaryDirectory() as directory:
        result = asyncio.run(_run(args.count, args.rounds, Path(directory)))
    print(
        f"gateway (STARTTLS, AUTH, policy, outbox commit): {result['gateway_msgs_per_s']} msgs/s;"
        f" direct to the sink: {result['direct_msgs_per_s']} msgs/s;"
        f" ratio {result['ratio']}"
    )
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (out / f"gateway-{stamp}.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
