"""Per-message cost of maild's parser against plain mail-parser and the stdlib, one run.

    .venv/bin/python bench/parse_speed.py [--count 2000] [--rounds 5] [--seed 0]

Part 1 parses the same realistic ~13 KB text+HTML messages (``tests/support/mailgen``)
with three contenders, interleaved round by round so that machine noise hits all of
them alike, and prints the median msgs/s of each and the ratios:

* ``maild``: :func:`maild.ingest.parse.parse` (everything the pipeline needs);
* ``mail-parser``: ``mailparser.parse_from_bytes`` (what the naive stack does);
* ``stdlib``: ``email.message_from_bytes(policy=compat32)`` (tree only, no fields).

Part 2 times hostile messages once each (5,000 Received headers, a 25 MB attachment,
deep nesting, HTML that stalls ``html.parser``) and, for the attachment, the peak of
Python allocations traced during the parse. Unit tests assert behaviour only; the
timings live here.
"""

from __future__ import annotations

import argparse
import base64
import email
import email.policy
import logging
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import mailparser

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.support.mailgen

from maild.ingest.parse import parse
from tests.support.mailgen import make_messages

Contender = Callable[[bytes], object]

CONTENDERS: dict[str, Contender] = {
    "maild": parse,
    "mail-parser": mailparser.parse_from_bytes,
    "stdlib": lambda raw: email.message_from_bytes(raw, policy=email.policy.compat32),
}


def throughput(contender: Contender, messages: list[bytes]) -> float:
    start = time.perf_counter()
    for raw in messages:
        contender(raw)
    return len(messages) / (time.perf_counter() - start)


def realistic(count: int, rounds: int, seed: int) -> None:
    messages = list(make_messages(count, seed))
    size = sum(map(len, messages)) / len(messages)
    print(f"== realistic mail: {count} messages, mean {size / 1024:.1f} KB, {rounds} rounds")
    names = list(CONTENDERS)
    results: dict[str, list[float]] = {name: [] for name in names}
    throughput(parse, messages[:50])  # warm caches and imports
    for round_no in range(rounds):
        order = names[round_no % len(names) :] + names[: round_no % len(names)]
        for name in order:
            results[name].append(throughput(CONTENDERS[name], messages))
    medians = {name: statistics.median(values) for name, values in results.items()}
    for name in names:
        spread = f"{min(results[name]):,.0f}-{max(results[name]):,.0f}"
        print(f"  {name:<12} {medians[name]:>8,.0f} msgs/s  (rounds {spread})")
    print(f"  maild / mail-parser = {medians['maild'] / medians['mail-parser']:.2f}x")
    print(f"  maild / stdlib      = {medians['maild'] / medians['stdlib']:.2f}x")


def timed(label: str, contender: Contender, raw: bytes) -> None:
    start = time.perf_counter()
    contender(raw)
    print(f"  {label:<44} {(time.perf_counter() - start) * 1000:>9.1f} ms")


def peak_memory(label: str, contender: Contender, raw: bytes) -> None:
    tracemalloc.start()
    start = time.perf_counter()
    contender(raw)
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"  {label:<44} {elapsed * 1000:>9.1f} ms, peak +{peak / 2**20:,.1f} MiB traced")


def hostile() -> None:
    print("== hostile messages (maild's caps; mail-parser for comparison)")
    head = b"From: Buyer <buyer@example.com>\r\nTo: support@seller.example\r\n"
    received = b"".join(
        b"Received: from relay%d.example (relay%d.example [192.0.2.%d])\r\n"
        b"\tby mx.example with ESMTP id %d for <support@seller.example>;\r\n"
        b"\tMon, 4 Mar 2024 10:00:00 +0000\r\n" % (i, i, i % 250, i)
        for i in range(5000)
    )
    flood = received + head + b"Subject: after 5000 Received\r\n\r\nbody\r\n"
    timed("5,000 Received headers: maild", parse, flood)
    timed("5,000 Received headers: mail-parser", mailparser.parse_from_bytes, flood)

    data = base64.encodebytes(os.urandom(25 * 2**20)).replace(b"\n", b"\r\n")
    big = (
        head + b"Subject: big\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
        b"--XX\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--XX\r\n"
        b"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + data + b"--XX--\r\n"
    )
    del data
    peak_memory("25 MB attachment (36 MB message): maild", parse, big)
    peak_memory("25 MB attachment (36 MB message): mail-parser", mailparser.parse_from_bytes, big)
    del big

    nested = (
        head
        + b"Subject: deep\r\n"
        + b"".join(
            b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
            for i in range(2000)
        )
    )
    timed("2,000 nested multiparts: maild", parse, nested)
    html = head + b"Subject: h\r\nContent-Type: text/html\r\n\r\n" + b"<a " * 300_000
    timed("900 KB of '<a <a <a' HTML: maild", parse, html)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-hostile", action="store_true")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # mail-parser logs per odd part; not what is measured
    realistic(args.count, args.rounds, args.seed)
    if not args.skip_hostile:
        hostile()


if __name__ == "__main__":
    main()
