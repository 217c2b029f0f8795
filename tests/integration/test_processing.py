"""Processing: every landed message is parsed or quarantined, and one bad message stops nothing."""

import asyncio
import contextlib
import json
import multiprocessing
import random
import subprocess
import sys
import time
from concurrent.futures import Executor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from sqlalchemy import text

from maild.cli import main
from maild.domain import LandedMessage, ParsedMail, RawMessage
from maild.errors import StoreError
from maild.ingest.identity import message_key
from maild.ingest.parse import Parts, parse_parts
from maild.ingest.pipeline import ALL_STATES, Processor
from maild.ingest.rules import MailboxRules
from maild.ingest.workers import BatchReport, parse_batch
from maild.metrics import Metrics
from maild.store import Store
from maild.store.types import compress_raw
from maild.threads.presets import load_preset
from tests.support.config_files import mailbox_table, password_variable, write_config
from tests.support.dovecot import ImapAccount
from tests.support.mailgen import make_message

MAIL = Path(__file__).parents[1] / "data" / "mail"
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def broken_corpus() -> dict[str, bytes]:
    """Real damaged mail from tests/data/mail plus a 25 MB attachment built here."""
    corpus = {p.name: p.read_bytes() for p in sorted(MAIL.glob("*.eml"))}
    payload = random.Random(25).randbytes(25 * 1024 * 1024)
    import base64

    body = base64.encodebytes(payload)
    corpus["huge_attachment.eml"] = (
        b"Message-ID: <huge@shop.example>\r\nSubject: invoice scan\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n'
        b"\r\nsee attached\r\n--b\r\nContent-Type: application/pdf; name=scan.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + body.replace(b"\n", b"\r\n") + b"--b--\r\n"
    )
    return corpus


def land(store: Store, messages: list[bytes]) -> None:
    raws = []
    for uid, raw in enumerate(messages, start=1):
        key = message_key(raw)
        raws.append(RawMessage(uid=uid, raw=raw, message_id=key.message_id, digest=key.digest))
    store.land("shop", "INBOX", 1, raws, len(raws), NOW)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store.open(f"sqlite:///{tmp_path / 'maild.db'}")
    opened.ensure_mailboxes({"shop": "support@shop.example"}, NOW)
    return opened


def states(store: Store) -> dict[str, int]:
    with store.engine.connect() as connection:
        rows = connection.execute(text("SELECT state, count(*) FROM message GROUP BY state"))
        return {state: int(n) for state, n in rows}


async def test_broken_mail_is_all_kept_and_only_the_unparseable_is_quarantined(
    store: Store,
) -> None:
    corpus = broken_corpus()
    land(store, list(corpus.values()))
    registry = CollectorRegistry()
    processor = Processor(store, lambda: NOW, Metrics(registry), batch=4)
    try:
        report = await processor.run()
    finally:
        processor.close()
    assert report.processed + report.quarantined == len(corpus)
    assert states(store) == {"processed": report.processed, "quarantined": report.quarantined}
    assert report.quarantined == 1  # the empty message: there is nothing to parse
    quarantined = registry.get_sample_value(
        "maild_messages_processed_total", {"outcome": "quarantined"}
    )
    assert quarantined == 1
    with store.engine.connect() as connection:
        reason = connection.execute(
            text("SELECT quarantine_reason FROM message WHERE state = 'quarantined'")
        ).scalar_one()
        attachment = connection.execute(
            text("SELECT size, content_type FROM attachment WHERE filename = 'scan.pdf'")
        ).one()
    assert reason == "unparseable: empty message"
    assert tuple(attachment) == (25 * 1024 * 1024, "application/pdf")
    for pk in store.message_pks("shop"):
        assert store.raw_message(pk) in corpus.values()


async def test_a_new_worker_pool_starts_every_worker_at_once(store: Store) -> None:
    # One batch keeps one worker busy; the other must still be started, and ready, so
    # that a large backlog does not wait for it to start after the first batch.
    land(store, [make_message(i, seed=31) for i in range(4)])
    before = set(multiprocessing.active_children())
    processor = Processor(store, lambda: NOW, workers=2, batch=4)
    try:
        report = await processor.run()
        workers = set(multiprocessing.active_children()) - before
    finally:
        processor.close()
    assert report.processed == 4
    assert len(workers) == 2


class _Recording(Processor):
    """A processor that notes the size of every batch it hands out."""

    sizes: list[int]

    def _submit(self, pks: list[int], pool: Executor | None) -> "asyncio.Future[BatchReport]":
        self.sizes.append(len(pks))
        return super()._submit(pks, pool)


async def test_the_last_messages_go_out_in_smaller_batches_so_the_workers_finish_together(
    store: Store,
) -> None:
    land(store, [make_message(i, seed=33) for i in range(300)])
    before = set(multiprocessing.active_children())
    processor = _Recording(store, lambda: NOW, workers=2, batch=100)
    processor.sizes = []
    try:
        report = await processor.run()
        workers = set(multiprocessing.active_children()) - before
    finally:
        processor.close()
    assert report.processed == 300 and sum(processor.sizes) == 300
    # Fewer than a window (2 batches a worker) wait: a quarter of them, then less and
    # less, never under 25 but for the rest.
    assert processor.sizes == [75, 57, 42, 32, 25, 25, 25, 19]
    assert len(workers) == 2  # a full batch's worth waited: the pool started


# Run in a fresh interpreter: whether a worker may be forked depends on the threads of
# the process, and the test process's own depend on which tests ran before.
_START_WORKERS = """
import asyncio, multiprocessing, sys, threading
from pathlib import Path
from maild.ingest.pipeline import Processor
from maild.store import Store
from tests.integration.test_processing import NOW, land
from tests.support.mailgen import make_message

if sys.argv[2] == "with-a-thread":
    threading.Thread(target=threading.Event().wait, daemon=True).start()
store = Store.open(f"sqlite:///{Path(sys.argv[1]) / 'maild.db'}")
store.ensure_mailboxes({"shop": "support@shop.example"}, NOW)
land(store, [make_message(i, seed=32) for i in range(6)])
processor = Processor(store, lambda: NOW, workers=2, batch=250)
processor.start_workers()
try:
    mine = Path("/proc/self/cmdline").read_bytes()  # a forked child keeps it, spawned ones not
    for child in multiprocessing.active_children():
        print("forked" if Path(f"/proc/{child.pid}/cmdline").read_bytes() == mine else "spawned")
    print("processed", asyncio.run(processor.run()).processed)
finally:
    processor.close()
"""


@pytest.mark.parametrize(
    ("threads", "started"), [("alone", "forked"), ("with-a-thread", "spawned")]
)
def test_a_run_starts_its_workers_at_once_forked_unless_another_thread_runs(
    tmp_path: Path, threads: str, started: str
) -> None:
    # Forked, a worker has what maild already imported and loaded and starts at once;
    # forking beside another thread could leave a lock held forever in the worker.
    done = subprocess.run(
        [sys.executable, "-c", _START_WORKERS, str(tmp_path), threads],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[2],
    )
    assert done.stdout.split() == [started, started, "processed", "6"]


def test_a_worker_that_cannot_load_its_model_says_so_when_it_starts(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rules = {"shop": MailboxRules(load_preset("generic"), str(tmp_path / "gone.npz"))}
    processor = Processor(store, lambda: NOW, workers=1, rules=rules)
    processor.start_workers()
    try:
        # Closing at once could cancel the warm-up before it reached the worker.
        deadline = time.monotonic() + 60
        while "warm-up failed" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        processor.close()
    assert "worker warm-up failed error=ModelError" in caplog.text


async def test_processing_compresses_what_landing_stored_plain_and_reprocess_reparses_it(
    store: Store,
) -> None:
    land(store, [make_message(i, seed=30) for i in range(12)])
    processor = Processor(store, lambda: NOW)
    try:
        first = await processor.run()
        again = await processor.run()
        everything = await processor.run(states=ALL_STATES)
    finally:
        processor.close()
    assert (first.processed, again.processed, everything.processed) == (12, 0, 12)
    with store.engine.connect() as connection:
        subjects = connection.execute(text("SELECT count(subject) FROM message")).scalar_one()
        codecs = connection.execute(text("SELECT DISTINCT raw_codec FROM message")).all()
    assert subjects == 12
    assert codecs == [("zstd",)]
    assert [store.raw_message(pk) for pk in store.message_pks("shop")] == [
        make_message(i, seed=30) for i in range(12)
    ]


def test_a_parser_crash_quarantines_only_that_message(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(raw: bytes) -> tuple[ParsedMail, Parts]:
        if b"boom" in raw:
            raise RecursionError("parser bug")
        return parse_parts(raw)

    monkeypatch.setattr("maild.ingest.workers.parse_parts", explode)
    outcomes = parse_batch(
        [
            LandedMessage(1, "shop", "in", b"Subject: boom\r\n\r\nx"),
            LandedMessage(2, "shop", "in", b"Subject: fine\r\n\r\ny"),
        ],
        {},
    )
    assert outcomes[0].error == "parser failed: RecursionError: parser bug"
    assert outcomes[1].parsed is not None and outcomes[1].parsed.subject == "fine"


async def test_a_message_whose_stored_bytes_are_damaged_is_quarantined_alone_and_kept(
    store: Store,
) -> None:
    messages = [make_message(i, seed=32) for i in range(3)]
    raws = [
        RawMessage(uid, raw, key.message_id, key.digest, compressed=compress_raw(raw))
        for uid, (raw, key) in enumerate(((r, message_key(r)) for r in messages), start=1)
    ]
    store.land("shop", "INBOX", 1, raws, 3, NOW)
    damaged = store.message_pks("shop")[1]
    with store.engine.begin() as connection:
        connection.execute(
            text("UPDATE message SET raw_blob = :junk WHERE id = :pk"),
            {"junk": b"\x28\xb5\x2f\xfd not zstd after all", "pk": damaged},
        )
    report = await Processor(store, lambda: NOW, workers=1).run()
    assert (report.processed, report.quarantined) == (2, 1)
    with store.engine.connect() as connection:
        reason, blob = connection.execute(
            text("SELECT quarantine_reason, raw_blob FROM message WHERE id = :pk"),
            {"pk": damaged},
        ).one()
    assert reason.startswith("stored bytes are damaged (zstd: ")
    assert blob == b"\x28\xb5\x2f\xfd not zstd after all"
    with pytest.raises(StoreError, match=f"message {damaged}: stored bytes are damaged"):
        store.raw_message(damaged)


AMAZON = load_preset("amazon")
REAL = [p.read_bytes() for p in sorted(MAIL.glob("*.eml"))] + [make_message(1, seed=31)]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(REAL)))
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if action == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        else:
            del data[at:]
    return bytes(data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated(), min_size=1, max_size=4))
def test_mutated_real_mail_never_breaks_processing_or_the_store(messages: list[bytes]) -> None:
    # Both directions: the customer of an outbound message is read from its recipients.
    landed = [
        LandedMessage(pk, "shop", "out" if pk % 2 else "in", raw)
        for pk, raw in enumerate(messages, start=1)
    ]
    outcomes = parse_batch(landed, {"shop": MailboxRules(AMAZON)})
    assert [o.pk for o in outcomes] == list(range(1, len(messages) + 1))
    for outcome in outcomes:
        assert (outcome.parsed is None) == (outcome.error is not None)
        if outcome.error is not None:
            assert not outcome.error.startswith("parser failed"), outcome.error


@pytest.mark.dovecot
def test_run_once_reports_quarantined_mail_in_stats_and_reprocess_retries_it(
    imap_account: ImapAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    imap_account.deliver(
        [make_message(1, seed=32), b"", (MAIL / "truncated_mime.eml").read_bytes()]
    )
    monkeypatch.setenv(password_variable("shop"), imap_account.password)
    config = write_config(tmp_path, mailbox_table(imap_account))
    assert main(["--config", str(config), "run", "--once"]) == 0
    run = capsys.readouterr()
    assert "processed 2, quarantined 1" in run.out
    empty = message_key(b"").message_id
    # The warning says where the message is on the server, to find it there.
    assert f"message quarantined mailbox=shop folder=INBOX uid=2 message_id={empty}" in run.err
    assert main(["--config", str(config), "stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert (stats["messages"], stats["quarantined"]) == (3, 1)
    assert stats["mailboxes"]["shop"]["quarantined"] == 1
    assert "quarantined_messages" not in stats
    assert main(["--config", str(config), "stats", "--json", "--quarantined"]) == 0
    [held] = json.loads(capsys.readouterr().out)["quarantined_messages"]
    assert {k: held[k] for k in ("mailbox", "folder", "uid", "message_id")} == {
        "mailbox": "shop",
        "folder": "INBOX",
        "uid": 2,
        "message_id": empty,
    }
    assert held["reason"].startswith("unparseable: ")
    assert main(["--config", str(config), "stats", "--quarantined"]) == 0
    text_out = capsys.readouterr().out
    assert f"  shop/INBOX uid 2 {empty}: unparseable: " in text_out
    assert main(["--config", str(config), "reprocess", "--mailbox", "shop"]) == 0
    assert "processed 0, quarantined 1" in capsys.readouterr().out
    assert main(["--config", str(config), "reprocess", "--mailbox", "nope"]) == 1


async def test_machine_mail_is_stored_marked_with_its_kind_and_people_mail_is_not(
    store: Store,
) -> None:
    autoreply = Path(__file__).parents[1] / "data" / "autoreply"
    names = [
        "exchange_online_ooo_automatic_reply.eml",
        "postfix_bounce_dsn.eml",
        "customer_re_automatic_reply_question.eml",
    ]
    land(store, [(autoreply / name).read_bytes() for name in names])

    processor = Processor(store, lambda: NOW)
    try:
        report = await processor.run()
    finally:
        processor.close()

    with store.engine.connect() as connection:
        kinds = (
            connection.execute(text("SELECT machine_kind FROM message ORDER BY id")).scalars().all()
        )
    assert report.processed == 3
    assert kinds == ["out_of_office", "bounce", None]
    assert store.stats().mailboxes["shop"].machine == 2


async def test_a_batch_left_running_in_a_thread_is_finished_before_the_store_closes(
    store: Store,
) -> None:
    # Fewer messages than a batch are parsed in a thread of this process; cancelling the
    # task that awaits them does not stop that thread, which goes on writing to the store.
    land(store, [make_message(i, 0) for i in range(60)])
    handed_out = asyncio.Event()

    def clock() -> datetime:
        handed_out.set()  # the processor reads the clock as it hands a batch out
        return NOW

    processor = Processor(store, clock)
    running = asyncio.create_task(processor.run())
    await asyncio.wait_for(handed_out.wait(), timeout=30)
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running

    await processor.settle(30.0)

    assert store.pending(limit=100) == []  # the batch wrote everything before settle returned
    store.close()
