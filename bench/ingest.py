"""Ingest throughput and memory, side by side in one run, against a local Dovecot.

For each size (default 10,000 and 50,000 ~13 KB messages, each with as many Received
headers as real mail carries: ``tests/support/mailgen``) the same folder is read by:
  mbsync   Debian isync pulling the folder into a Maildir (the raw-transfer reference);
  naive    stock aioimaplib in UID FETCH batches of 500 -> mail-parser -> one SQLModel
           object per message (500 per commit): the serial stack a first attempt writes;
  maild    `maild run --once` in a child process: landing (fetch + store raw bytes and
           the folder position), then processing on the worker pool.
Reported: msgs/s of each, maild's landing and processing phases separately, the
ratios the issue sets goals for (landing / mbsync >= 0.5, processed / naive >= 2),
the peak RSS of maild's largest process, and the CPU time per message of maild (all
its processes) and of the naive stack: on a shared machine that figure moves least.
The folder is indexed by Dovecot before any timing, each contender runs --rounds
times interleaved, medians are reported.
Figures go to stdout and bench/results/.

    PYTHONPATH=. .venv/bin/python bench/ingest.py [--sizes 10000 50000]
"""

import argparse
import asyncio
import compileall
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aioimaplib
import mailparser
from sqlalchemy import MetaData
from sqlmodel import Field, Session, SQLModel, create_engine

from tests.support.config_files import mailbox_table, password_variable, write_config
from tests.support.dovecot import DovecotServer, ImapAccount
from tests.support.mailgen import make_messages

RESULTS = Path(__file__).with_name("results")
NAIVE_BATCH = 500


class NaiveBase(SQLModel):
    metadata = MetaData()


class NaiveMessage(NaiveBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    message_id: str | None
    subject: str | None
    from_addr: str | None
    body: str
    raw: bytes


def run_mbsync(account: ImapAccount, work: Path) -> float:
    target = work / "mbsync-maildir"
    target.mkdir()
    (work / "pass").write_text(account.password)
    config = work / "mbsyncrc"
    config.write_text(
        "FSync no\n\n"
        f"IMAPAccount bench\nHost {account.host}\nPort {account.port}\nUser {account.username}\n"
        f'PassCmd "cat {work / "pass"}"\nSSLType None\nAuthMechs LOGIN\n\n'
        "IMAPStore remote\nAccount bench\n\n"
        f"MaildirStore local\nPath {target}/\nInbox {target}/INBOX\n\n"
        "Channel bench\nFar :remote:\nNear :local:\nPatterns INBOX\nCreate Near\n"
        "Sync Pull\nSyncState *\n"
    )
    start = time.perf_counter()
    subprocess.run(["mbsync", "-q", "-c", str(config), "bench"], check=True)
    return time.perf_counter() - start


async def naive_stack(account: ImapAccount, db: Path) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (it is all in this process) and messages stored."""
    engine = create_engine(f"sqlite:///{db}")
    NaiveBase.metadata.create_all(engine)
    start, cpu = time.perf_counter(), time.process_time()
    client = aioimaplib.IMAP4(account.host, account.port, timeout=600)
    await client.wait_hello_from_server()
    await client.login(account.username, account.password)
    selected = await client.select("INBOX")
    exists = next(
        int(m.group(1)) for line in selected.lines if (m := re.match(rb"(\d+) EXISTS", line))
    )
    stored = 0
    with Session(engine) as session:
        for first in range(1, exists + 1, NAIVE_BATCH):
            last = min(exists, first + NAIVE_BATCH - 1)
            response = await client.uid("fetch", f"{first}:{last}", "(UID BODY.PEEK[])")
            for raw in (bytes(x) for x in response.lines if isinstance(x, bytearray)):
                mail = mailparser.parse_from_bytes(raw)
                session.add(
                    NaiveMessage(
                        message_id=mail.message_id,
                        subject=mail.subject,
                        from_addr=mail.from_[0][1] if mail.from_ else None,
                        body=mail.body,
                        raw=raw,
                    )
                )
                stored += 1
            session.commit()
    await client.logout()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    engine.dispose()
    return elapsed, cpu, stored


def run_maild(account: ImapAccount, work: Path) -> dict[str, float]:
    # The generated mail carries Amazon order IDs, so maild reads it as an Amazon seller would.
    config = write_config(work, mailbox_table(account, preset="amazon"))
    env = {**os.environ, password_variable("shop"): account.password, "MAILD_LOG_LEVEL": "INFO"}
    start = time.perf_counter()
    # A wrapper process runs maild, so its rusage covers maild and its workers only.
    wrapper = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
        "use = resource.getrusage(resource.RUSAGE_CHILDREN); "
        "print('peak_kib', use.ru_maxrss, 'cpu_s', use.ru_utime + use.ru_stime, file=sys.stderr)"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            wrapper,
            sys.executable,
            "-m",
            "maild",
            "--config",
            str(config),
            "run",
            "--once",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    total = time.perf_counter() - start
    stamps = {
        key: datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f")
        for key, pattern in (("connected", r"imap connected"), ("synced", r"folder synced"))
        for line in done.stderr.splitlines()
        if (m := re.match(r"(\S+ \S+) .*" + pattern, line))
    }
    landing = (stamps["synced"] - stamps["connected"]).total_seconds()
    peak_kib, cpu_s = re.findall(r"peak_kib (\d+) cpu_s (\S+)", done.stderr)[-1]
    return {
        "total_s": total,
        "landing_s": landing,
        "peak_rss_mib": int(peak_kib) / 1024,
        "cpu_s": float(cpu_s),
    }


async def warm_up(account: ImapAccount) -> None:
    """SELECT once so Dovecot indexes the new folder before any contender is timed."""
    client = aioimaplib.IMAP4(account.host, account.port, timeout=600)
    await client.wait_hello_from_server()
    await client.login(account.username, account.password)
    await client.select("INBOX")
    await client.logout()


def one_round(account: ImapAccount, size: int) -> tuple[float, dict[str, float], float, float]:
    with tempfile.TemporaryDirectory(prefix="maild-bench-") as tmp:
        work = Path(tmp)
        mbsync_s = run_mbsync(account, work)
        maild = run_maild(account, work)
        naive_s, naive_cpu_s, naive_n = asyncio.run(naive_stack(account, work / "naive.db"))
    assert naive_n == size, naive_n
    return mbsync_s, maild, naive_s, naive_cpu_s


def measure(server: DovecotServer, size: int, rounds: int, one_hop: bool) -> dict[str, Any]:
    account = server.new_account()
    start = time.perf_counter()
    account.deliver(make_messages(size, seed=size, one_hop=one_hop))
    asyncio.run(warm_up(account))
    print(f"\n== {size} messages (seeded in {time.perf_counter() - start:.1f}s)", flush=True)
    runs = [one_round(account, size) for _ in range(rounds)]
    mbsync_s = statistics.median(r[0] for r in runs)
    naive_s = statistics.median(r[2] for r in runs)
    naive_cpu_s = statistics.median(r[3] for r in runs)
    maild = {key: statistics.median(r[1][key] for r in runs) for key in runs[0][1]}
    maild["peak_rss_mib"] = max(r[1]["peak_rss_mib"] for r in runs)
    figures = {
        "messages": size,
        "rounds": rounds,
        "one_hop": one_hop,
        "mbsync_msgs_per_s": size / mbsync_s,
        "naive_msgs_per_s": size / naive_s,
        "maild_landing_msgs_per_s": size / maild["landing_s"],
        "maild_processed_msgs_per_s": size / maild["total_s"],
        "maild_processing_phase_s": maild["total_s"] - maild["landing_s"],
        "maild_peak_rss_mib": maild["peak_rss_mib"],
        "maild_cpu_ms_per_msg": 1e3 * maild["cpu_s"] / size,
        "naive_cpu_ms_per_msg": 1e3 * naive_cpu_s / size,
    }
    figures["landing_vs_mbsync"] = (
        figures["maild_landing_msgs_per_s"] / figures["mbsync_msgs_per_s"]
    )
    figures["processed_vs_naive"] = (
        figures["maild_processed_msgs_per_s"] / figures["naive_msgs_per_s"]
    )
    for key, value in figures.items():
        print(f"  {key:30} {value:10.2f}" if isinstance(value, float) else f"  {key:30} {value}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--rounds", type=int, default=3, help="median of this many runs each")
    parser.add_argument(
        "--one-hop",
        action="store_true",
        help="mail with one Received header, as before the generator carried real mail's "
        "trace (for comparing with figures of sessions before 7)",
    )
    args = parser.parse_args()
    # maild runs as installed: pip byte-compiles a package, a checkout with
    # PYTHONDONTWRITEBYTECODE set (as on CI machines) would compile every module from
    # source in every maild process (about 0.1 s of CPU each, start-up included in the
    # figures). The naive stack's imports are not timed at all.
    compileall.compile_dir(Path(__file__).parents[1] / "maild", quiet=1)
    server = DovecotServer()
    server.start()
    try:
        results = [measure(server, size, args.rounds, args.one_hop) for size in args.sizes]
    finally:
        server.cleanup()
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"ingest-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
