"""Conversations by order ID, end to end: real mail in INBOX and Sent, `maild run --once`."""

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from maild.cli import main
from tests.support.config_files import mailbox_table, password_variable, write_config
from tests.support.dovecot import ImapAccount
from tests.support.imap_session import imap_session
from tests.support.outbox import query

pytestmark = pytest.mark.dovecot

ORDER = "6912345678901234567"
SUB = "6912345678901234568"
OTHER = "6987654321098765432"
SHOP = "service@shop.example"
BUYER = "buyer@mail.example"


def mail(
    n: int,
    subject: str,
    body: str,
    *,
    sender: str = BUYER,
    to: str = SHOP,
    extra: str = "",
    day: int = 1,
) -> bytes:
    headers = (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Date: Mon, {day:02d} Jun 2026 10:{n:02d}:00 +0800\r\n"
        f"Message-ID: <m{n}@thread.test>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
    )
    return (headers + extra + "\r\n" + body + "\r\n").encode()


def arrive(account: ImapAccount, *messages: tuple[str, bytes]) -> None:
    """APPEND (folder, message) pairs one minute apart, as the server would receive them."""

    async def append_all() -> None:
        async with imap_session(account) as client, asyncio.timeout(20):
            for folder in sorted({f for f, _ in messages} - {"INBOX"}):
                await client.create(folder)
            for minute, (folder, raw) in enumerate(messages):
                when = datetime(2026, 6, 1, 2, tzinfo=UTC) + timedelta(minutes=minute)
                response = await client.append(raw, mailbox=folder, date=when)
                assert response.result == "OK", response

    asyncio.run(append_all())


def run_once(
    account: ImapAccount, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, imap_keys: str = ""
) -> None:
    table = mailbox_table(account, preset="douyin")
    table += imap_keys
    config = write_config(tmp_path, table)
    monkeypatch.setenv(password_variable("shop"), account.password)
    assert main(["--config", str(config), "run", "--once"]) == 0


def conversations(tmp_path: Path) -> dict[int, set[int]]:
    """Thread id -> the numbers (n in <mN@thread.test>) of its messages."""
    found: dict[int, set[int]] = {}
    for thread, message_id in query(
        tmp_path,
        "SELECT mt.thread_id, m.message_id FROM message_thread mt "
        "JOIN message m ON m.id = mt.message_pk",
    ):
        number = int(str(message_id).removeprefix("<m").removesuffix("@thread.test>"))
        found.setdefault(int(str(thread)), set()).add(number)
    return found


def test_six_messages_across_inbox_and_sent_end_as_one_conversation_with_the_right_counts(
    imap_account: ImapAccount, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    subject = f"订单 {ORDER} 还没发货"
    arrive(
        imap_account,
        ("INBOX", mail(1, subject, f"订单号：{ORDER} 什么时候发货？")),
        (
            "Sent",
            mail(
                2,
                f"回复：{subject}",
                "您好，已安排发货。",
                sender=SHOP,
                to=BUYER,
                extra="In-Reply-To: <m1@thread.test>\r\n",
            ),
        ),
        (
            "INBOX",
            mail(
                3,
                f"回复：{subject}",
                "好的，谢谢",
                extra="References: <m1@thread.test> <m2@thread.test>\r\n",
            ),
        ),
        (
            "INBOX",
            mail(
                4,
                "平台客服转交：买家咨询",
                f"买家昵称：小王\r\n订单号：{ORDER}\r\n买家反映物流信息长时间未更新。",
                sender="kefu@jinritemai.com",
            ),
        ),
        ("INBOX", mail(5, "包裹破损", f"订单号：{ORDER}，子订单号：{SUB} 的包裹破损了")),
        (
            "INBOX",
            mail(
                6,
                f"自动回复: {subject}",
                "您好，我现在不在，稍后回复。",
                extra="Auto-Submitted: auto-replied\r\nIn-Reply-To: <m2@thread.test>\r\n",
            ),
        ),
    )
    run_once(imap_account, tmp_path, monkeypatch)

    assert list(conversations(tmp_path).values()) == [{1, 2, 3, 4, 5, 6}]
    [(messages, sub_orders, after_sale, waiting, customer)] = query(
        tmp_path,
        "SELECT messages, sub_orders, after_sale_sub_orders, awaiting_since, "
        "customer_address FROM thread",
    )
    # The follow-up (3) after the reply (2) waits; the auto-reply (6) changes nothing.
    assert (messages, sub_orders, after_sale) == (6, 1, 1)
    assert str(waiting).startswith("2026-06-01 02:02:00")
    assert customer == BUYER
    assert query(tmp_path, "SELECT order_id FROM thread_order") == [(ORDER,)]
    assert query(tmp_path, "SELECT count(*) FROM message WHERE direction = 'out'") == [(1,)]


def test_conversation_without_order_merges_into_the_orders_when_a_reply_names_it(
    imap_account: ImapAccount, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    imap_account.deliver(
        [
            mail(1, f"订单 {ORDER}", f"订单号：{ORDER} 请尽快发货"),
            mail(2, "东西坏了", "收到的东西坏了怎么办", sender="another@mail.example"),
            mail(
                3,
                "回复：东西坏了",
                f"订单号是 {ORDER}",
                sender="another@mail.example",
                extra="In-Reply-To: <m2@thread.test>\r\n",
            ),
        ]
    )
    run_once(imap_account, tmp_path, monkeypatch)

    assert list(conversations(tmp_path).values()) == [{1, 2, 3}]
    assert query(tmp_path, "SELECT count(*) FROM thread") == [(1,)]


def test_message_naming_two_orders_is_in_both_conversations(
    imap_account: ImapAccount, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    imap_account.deliver(
        [
            mail(1, "第一单", f"订单号：{ORDER} 没收到"),
            mail(2, "第二单", f"订单号：{OTHER} 也没收到"),
            mail(3, "两个订单", f"订单号：{ORDER} 和订单号：{OTHER} 都还没到"),
        ]
    )
    run_once(imap_account, tmp_path, monkeypatch)

    assert sorted(conversations(tmp_path).values(), key=min) == [{1, 3}, {2, 3}]


def test_threads_json_is_searchable_by_order_id_and_show_marks_the_conversation_read(
    imap_account: ImapAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    arrive(
        imap_account,
        ("INBOX", mail(1, "第一单", f"订单号：{ORDER} 没收到")),
        (
            "INBOX",
            mail(2, "物流问题", f"订单号：{OTHER} 的物流一直没更新", sender="zhao@mail.example"),
        ),
    )
    run_once(imap_account, tmp_path, monkeypatch)
    config = str(tmp_path / "maild.toml")
    capsys.readouterr()

    assert main(["--config", config, "threads", "--order-id", OTHER, "--json"]) == 0
    [found] = json.loads(capsys.readouterr().out)
    assert found["order_ids"] == [OTHER]
    assert (found["customer"], found["state"], found["unread"]) == (
        "zhao@mail.example",
        "response-needed",
        True,
    )
    assert {"id", "mailbox", "sub_order_ids", "subject", "messages", "labels", "due"} <= set(found)
    # Douyin's clock: 24 business hours of 09:00-21:00 Asia/Shanghai from 10:01 on 1 June.
    assert (found["due"], found["sla_state"]) == ("2026-06-03T02:01:00+00:00", "overdue")
    assert [c["clock"] for c in found["clocks"]] == ["platform"]

    assert main(["--config", config, "show", str(found["id"])]) == 0
    shown = capsys.readouterr().out
    assert "物流一直没更新" in shown and "<- 2026-06-01T02:01:00" in shown
    assert not any(seen_flags(imap_account).values())  # mark_seen is off by default

    assert main(["--config", config, "threads", "--view", "unread", "--json"]) == 0
    assert [t["order_ids"] for t in json.loads(capsys.readouterr().out)] == [[ORDER]]

    assert main(["--config", config, "threads", "--subject", "物流"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert len(table) == 2 and OTHER in table[1] and "response-needed" in table[1]
    assert table[1].endswith("OVERDUE")


def seen_flags(account: ImapAccount) -> dict[int, bool]:
    """UID -> whether the server has \\Seen on it."""

    async def fetch() -> dict[int, bool]:
        async with imap_session(account) as client, asyncio.timeout(10):
            await client.select("INBOX")
            response = await client.uid("fetch", "1:*", "(FLAGS)")
        flags = {}
        for line in response.lines:
            text = line.decode() if isinstance(line, bytes) else ""
            if "FETCH" in text and "UID" in text:
                uid = int(text.split("UID ")[1].split()[0].rstrip(")"))
                flags[uid] = "\\Seen" in text
        return flags

    return asyncio.run(fetch())


def test_show_sets_seen_on_the_server_only_when_the_mailbox_enables_it(
    imap_account: ImapAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    arrive(
        imap_account,
        ("INBOX", mail(1, "第一单", f"订单号：{ORDER} 没收到")),
        ("INBOX", mail(2, "第二单", f"订单号：{OTHER} 没收到")),
    )
    run_once(imap_account, tmp_path, monkeypatch, imap_keys="mark_seen = true\n")
    assert seen_flags(imap_account) == {1: False, 2: False}  # ingest never sets it
    config = str(tmp_path / "maild.toml")
    capsys.readouterr()
    assert main(["--config", config, "threads", "--order-id", ORDER, "--json"]) == 0
    [first] = json.loads(capsys.readouterr().out)

    assert main(["--config", config, "show", str(first["id"])]) == 0

    assert seen_flags(imap_account) == {1: True, 2: False}


def test_show_lists_each_sub_order_with_its_after_sales_state_and_message_count(
    imap_account: ImapAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    second = "6912345678901234569"
    arrive(
        imap_account,
        ("INBOX", mail(1, "包裹破损", f"订单号：{ORDER}，子订单号：{SUB} 的包裹破损了")),
        (
            "Sent",
            mail(
                2,
                "回复：包裹破损",
                f"订单号：{ORDER}，子订单号：{SUB} 已为您安排换货。",
                sender=SHOP,
                to=BUYER,
                extra="In-Reply-To: <m1@thread.test>\r\n",
            ),
        ),
        ("INBOX", mail(3, "另一个包裹", f"订单号：{ORDER}，子订单号：{second} 还没到")),
    )
    run_once(imap_account, tmp_path, monkeypatch)
    config = str(tmp_path / "maild.toml")
    capsys.readouterr()
    [thread] = conversations(tmp_path)

    assert main(["--config", config, "show", str(thread), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["sub_orders"] == [
        {"id": SUB, "after_sales": "answered", "messages": 2},
        {"id": second, "after_sales": "open", "messages": 1},
    ]
    assert main(["--config", config, "show", str(thread)]) == 0
    text = capsys.readouterr().out
    assert f"  {SUB}  after-sales: answered  2 messages" in text
    assert f"  {second}  after-sales: open      1 message" in text

    # Nothing here was returned to the platform or closed.
    for view in ("returned", "closed", "escalated"):
        assert main(["--config", config, "threads", "--view", view, "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == []
