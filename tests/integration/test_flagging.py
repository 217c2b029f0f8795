"""maild flag and unflag end to end: real mail in INBOX and Sent, `run --once`, the views."""

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
from tests.support.tiny_corpus import TEMPLATES, records, write_jsonl

pytestmark = pytest.mark.dovecot

ORDER = "6912345678901234567"
SHOP = "support@shop.example"
BUYER = "buyer@mail.example"
FRAUD = TEMPLATES["fraud"][0].format(en="lamp")


def mail(n: int, subject: str, body: str, *, sender: str = BUYER, extra: str = "") -> bytes:
    to = BUYER if sender == SHOP else SHOP
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <f{n}@flag.test>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: 8bit\r\n{extra}\r\n{body}\r\n"
    ).encode()


def reply(n: int, to: int, body: str = "Thank you for asking; yes, it is in stock.") -> bytes:
    return mail(n, "Re: question", body, sender=SHOP, extra=f"In-Reply-To: <f{to}@flag.test>\r\n")


def append(account: ImapAccount, *messages: tuple[str, bytes, int]) -> None:
    """APPEND (folder, message, minute): arrival times on 1 June 2026 from 02:00 UTC."""

    async def append_all() -> None:
        async with imap_session(account) as client, asyncio.timeout(20):
            for folder in sorted({f for f, _, _ in messages} - {"INBOX"}):
                await client.create(folder)  # NO when it exists already: that is fine
            for folder, raw, minute in messages:
                when = datetime(2026, 6, 1, 2, tzinfo=UTC) + timedelta(minutes=minute)
                response = await client.append(raw, mailbox=folder, date=when)
                assert response.result == "OK", response

    asyncio.run(append_all())


def configure(
    account: ImapAccount, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: Path | None = None
) -> str:
    keys = f'classifier_model = "{model}"\n' if model else ""
    table = mailbox_table(account, preset="douyin", keys=keys)
    monkeypatch.setenv(password_variable("shop"), account.password)
    return str(write_config(tmp_path, table))


def cli(capsys: pytest.CaptureFixture[str], config: str, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--config", config, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def subjects(capsys: pytest.CaptureFixture[str], config: str, view: str) -> list[str]:
    code, out, _ = cli(capsys, config, "threads", "--view", view, "--json")
    assert code == 0
    return sorted(t["subject"] for t in json.loads(out))


def thread_of(capsys: pytest.CaptureFixture[str], config: str, subject: str) -> int:
    code, out, _ = cli(capsys, config, "threads", "--subject", subject, "--json")
    assert code == 0
    [found] = json.loads(out)
    return int(found["id"])


def feedback(tmp_path: Path) -> list[tuple[object, ...]]:
    return query(
        tmp_path,
        "SELECT m.message_id, f.action, f.reason, f.origin FROM feedback f "
        "JOIN message m ON m.id = f.message_pk ORDER BY f.id",
    )


def run_once(config: str) -> None:
    assert main(["--config", config, "run", "--once"]) == 0


def synced(
    account: ImapAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *messages: tuple[str, bytes, int],
    model: Path | None = None,
) -> str:
    """``messages`` delivered, maild configured and run once: the config's path."""
    append(account, *messages)
    config = configure(account, tmp_path, monkeypatch, model)
    run_once(config)
    return config


def test_flagged_pre_sale_message_leaves_all_and_unread_and_shows_in_spam(
    imap_account: ImapAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A cold pitch the shipped model lets through (spam 0.13) and the seller calls spam.
    config = synced(
        imap_account,
        tmp_path,
        monkeypatch,
        (
            "INBOX",
            mail(
                1,
                "Store design",
                "Hello, is the shop owner there? I would like to talk about your store design.",
            ),
            0,
        ),
        ("INBOX", mail(2, "发货时间", f"订单号：{ORDER} 什么时候发货？"), 1),
    )
    assert subjects(capsys, config, "unread") == ["Store design", "发货时间"]

    code, out, _ = cli(capsys, config, "flag", "f1@flag.test", "--reason", "spam")

    assert code == 0
    assert out.startswith("flagged <f1@flag.test> as spam;") and "Spam view" in out
    assert subjects(capsys, config, "all") == ["发货时间"]
    assert subjects(capsys, config, "unread") == ["发货时间"]
    assert subjects(capsys, config, "spam") == ["Store design"]
    assert query(tmp_path, "SELECT name, source FROM label WHERE source = 'flag'") == [
        ("spam", "flag")
    ]
    assert feedback(tmp_path) == [("<f1@flag.test>", "flag", "spam", "agent")]


def test_flag_is_refused_for_a_message_tied_to_an_order_by_itself_or_its_conversation(
    imap_account: ImapAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = synced(
        imap_account,
        tmp_path,
        monkeypatch,
        ("INBOX", mail(1, "发货时间", f"订单号：{ORDER} 什么时候发货？"), 0),
        (
            "INBOX",
            mail(2, "回复：发货时间", "你们是骗子", extra="In-Reply-To: <f1@flag.test>\r\n"),
            1,
        ),
    )

    named = cli(capsys, config, "flag", "<f1@flag.test>", "--reason", "spam")
    follow_up = cli(capsys, config, "flag", "<f2@flag.test>", "--reason", "inappropriate")

    assert named[0] == 1 and "refused (order)" in named[2] and "flagged as spam" in named[2]
    assert ORDER in named[2]
    assert follow_up[0] == 1 and "refused (order): only pre-sale messages" in follow_up[2]
    assert subjects(capsys, config, "all") == ["发货时间"]
    assert subjects(capsys, config, "spam") == []
    assert feedback(tmp_path) == []


def test_flag_is_refused_for_an_answered_message_and_for_the_sellers_reply(
    imap_account: ImapAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = synced(
        imap_account,
        tmp_path,
        monkeypatch,
        ("INBOX", mail(1, "question", "Is the blue kettle in stock?"), 0),
        ("Sent", reply(2, to=1), 5),
    )
    thread = thread_of(capsys, config, "question")
    out = cli(capsys, config, "show", str(thread), "--json")[1]
    refs = [(m["direction"], m["ref"]) for m in json.loads(out)["messages"]]
    assert refs == [("in", f"{thread}:1"), ("out", f"{thread}:2")]
    assert f"ref {thread}:2" in cli(capsys, config, "show", str(thread))[1]

    answered = cli(capsys, config, "flag", f"{thread}:1", "--reason", "spam")
    outbound = cli(capsys, config, "flag", f"{thread}:2", "--reason", "fraud")

    assert answered[0] == 1 and "refused (answered)" in answered[2]
    assert outbound[0] == 1 and "refused (outbound)" in outbound[2]
    assert cli(capsys, config, "flag", f"{thread}:3", "--reason", "spam")[0] == 1
    assert subjects(capsys, config, "spam") == []
    assert feedback(tmp_path) == []


def test_reply_to_flagged_message_unflags_it_and_the_conversation_returns_to_all(
    imap_account: ImapAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = synced(
        imap_account, tmp_path, monkeypatch, ("INBOX", mail(1, "question", "You are all idiots"), 0)
    )
    assert cli(capsys, config, "flag", "f1@flag.test", "--reason", "inappropriate")[0] == 0
    assert subjects(capsys, config, "all") == []

    append(imap_account, ("Sent", reply(2, to=1, body="Sorry to hear that; how can we help?"), 9))
    run_once(config)

    assert subjects(capsys, config, "all") == ["question"]
    assert subjects(capsys, config, "spam") == []
    assert query(tmp_path, "SELECT count(*) FROM label WHERE source = 'flag'") == [(0,)]
    assert feedback(tmp_path) == [
        ("<f1@flag.test>", "flag", "inappropriate", "agent"),
        ("<f1@flag.test>", "unflag", "inappropriate", "reply"),
    ]


def test_new_message_flagged_after_an_earlier_reply_moves_its_conversation_to_spam(
    imap_account: ImapAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = synced(
        imap_account,
        tmp_path,
        monkeypatch,
        ("INBOX", mail(1, "question", "Is the blue kettle in stock?"), 0),
        ("Sent", reply(2, to=1), 1),
        (
            "INBOX",
            mail(
                3,
                "Re: question",
                "Win a free casino bonus",
                extra="In-Reply-To: <f2@flag.test>\r\n",
            ),
            2,
        ),
    )
    thread = thread_of(capsys, config, "question")

    code, out, _ = cli(capsys, config, "flag", f"{thread}:3", "--reason", "spam")

    assert code == 0 and "<f3@flag.test>" in out
    assert subjects(capsys, config, "all") == []
    assert subjects(capsys, config, "spam") == ["question"]


def test_unflag_returns_the_conversation_to_all_and_is_kept_as_feedback(
    imap_account: ImapAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = synced(
        imap_account,
        tmp_path,
        monkeypatch,
        ("INBOX", mail(1, "question", "Do you ship to Canada?"), 0),
    )
    assert cli(capsys, config, "unflag", "f1@flag.test")[2].count("refused (not-flagged)") == 1
    assert cli(capsys, config, "flag", "f1@flag.test", "--reason", "spam")[0] == 0

    code, out, _ = cli(capsys, config, "unflag", "<f1@flag.test>")

    assert code == 0 and out.startswith("unflagged <f1@flag.test> (was spam)")
    assert subjects(capsys, config, "all") == ["question"]
    assert feedback(tmp_path) == [
        ("<f1@flag.test>", "flag", "spam", "agent"),
        ("<f1@flag.test>", "unflag", "spam", "agent"),
    ]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    corpus = write_jsonl(folder / "tiny.jsonl", records())
    out = folder / "model.npz"
    assert main(["train", "--data", str(corpus), "--out", str(out), "--seed", "3"]) == 0
    return out


def test_a_persons_verdict_outlasts_reprocessing_with_the_model(
    imap_account: ImapAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    model: Path,
) -> None:
    config = synced(
        imap_account,
        tmp_path,
        monkeypatch,
        ("INBOX", mail(1, "Refund", FRAUD, sender="one@mail.example"), 0),
        ("INBOX", mail(2, "Account", FRAUD, sender="two@mail.example"), 1),
        model=model,
    )
    assert subjects(capsys, config, "spam") == ["Account", "Refund"]

    unflagged = cli(capsys, config, "unflag", "f1@flag.test")
    flagged = cli(capsys, config, "flag", "f2@flag.test", "--reason", "fraud")
    assert main(["--config", config, "reprocess", "--all"]) == 0

    assert unflagged[1].startswith("unflagged <f1@flag.test> (was fraud)")
    assert "in All" in unflagged[1]
    assert flagged[1].startswith("flagged <f2@flag.test> as fraud (replacing fraud)")
    assert subjects(capsys, config, "all") == ["Refund"]
    assert subjects(capsys, config, "spam") == ["Account"]
    assert query(tmp_path, "SELECT message_pk, name, source FROM label WHERE name = 'fraud'") == [
        (2, "fraud", "flag")
    ]


def test_train_include_feedback_learns_the_flagged_reason_and_the_unflagged_as_ham(
    imap_account: ImapAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = synced(
        imap_account,
        tmp_path,
        monkeypatch,
        ("INBOX", mail(1, "Refund", FRAUD, sender="one@mail.example"), 0),
        ("INBOX", mail(2, "question", "Do you ship to Canada?", sender="two@mail.example"), 1),
    )
    assert cli(capsys, config, "flag", "f1@flag.test", "--reason", "fraud")[0] == 0
    assert cli(capsys, config, "flag", "f2@flag.test", "--reason", "spam")[0] == 0
    assert cli(capsys, config, "unflag", "f2@flag.test")[0] == 0
    corpus = str(write_jsonl(tmp_path / "tiny.jsonl", records()))
    args = ("train", "--data", corpus, "--out", str(tmp_path / "m.npz"), "--json")

    code, out, _ = cli(capsys, config, *args, "--include-feedback")
    plain = json.loads(cli(capsys, config, *args)[1])

    assert code == 0
    report = json.loads(out)
    assert report["per_source"]["feedback"] == 2
    assert report["per_label"]["fraud"] == plain["per_label"]["fraud"] + 1
    assert report["per_label"]["ham"] == plain["per_label"]["ham"] + 1
    assert report["per_label"]["spam"] == plain["per_label"]["spam"]
    assert "feedback" not in plain["per_source"]
    # the message flagged as fraud is now one of the model's known campaigns
    assert report["campaign_messages"] == plain["campaign_messages"] + 1


def test_train_include_feedback_is_refused_for_the_shipped_model(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    imap_account: ImapAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = configure(imap_account, tmp_path, monkeypatch)
    args = ("train", "--shipped-from", str(tmp_path), "--out", str(tmp_path / "m.npz"))

    code, _, err = cli(capsys, config, *args, "--include-feedback")

    assert code == 1 and "--include-feedback needs --data" in err
