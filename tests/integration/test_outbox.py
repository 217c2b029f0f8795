"""Replies end to end: `maild reply`, then `maild run --once` sends through a real SMTP
server, files the copy in Dovecot's Sent folder and answers the conversation."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from maild.cli import main
from tests.support.config_files import password_variable
from tests.support.dovecot import ImapAccount
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
from tests.support.smtp import RecordingHandler, RecordingSMTPServer, threaded_smtp_server

pytestmark = pytest.mark.dovecot


class Cli:
    def __init__(self, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.config = str(config)
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main(["--config", self.config, *args])
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def thread(self) -> dict[str, object]:
        code, out, _ = self("threads", "--order-id", ORDER, "--json")
        assert code == 0
        [found] = json.loads(out)
        assert isinstance(found, dict)
        return found


@pytest.fixture
def smtp() -> Iterator[RecordingSMTPServer]:
    with threaded_smtp_server(RecordingHandler()) as server:
        yield server


@pytest.fixture
def cli(
    imap_account: ImapAccount,
    smtp: RecordingSMTPServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Cli:
    """maild configured to send through ``smtp``, the customer's question synced and waiting."""
    seed_customer_message(imap_account)
    monkeypatch.setenv(password_variable("shop"), imap_account.password)
    cli = Cli(outbox_config(imap_account, smtp, tmp_path), capsys)
    assert cli("run", "--once")[0] == 0
    assert cli.thread()["state"] == "response-needed"
    return cli


def reply(cli: Cli) -> str:
    thread = cli.thread()["id"]
    code, out, err = cli(
        "reply",
        str(thread),
        "--template",
        "problem-solution-en",
        "--var",
        "problem=The parcel is held at the depot.",
        "--var",
        "solution=We asked the carrier to deliver it tomorrow.",
    )
    assert code == 0, err
    return out.split()[1]  # "queued <message-id> ..."


@pytest.mark.timeout(60)
def test_template_reply_arrives_threaded_is_filed_in_sent_and_answers_the_conversation(
    cli: Cli, smtp: RecordingSMTPServer, imap_account: ImapAccount, tmp_path: Path
) -> None:
    message_id = reply(cli)
    assert query(tmp_path, "SELECT state FROM outbox") == [("queued",)]

    code, out, _ = cli("run", "--once")

    assert code == 0 and "outbox: sent 1" in out and "copied to Sent 1" in out
    [received] = smtp.handler.accepted
    assert received.rcpt_tos == (BUYER,)
    message = parsed(received.content)
    assert message["Message-ID"] == message_id
    assert message["In-Reply-To"] == CUSTOMER_ID
    assert message["References"].split() == ["<c0@buyers.example>", CUSTOMER_ID]
    assert message["Subject"] == f"Re: Where is my order {ORDER}?"
    body = message.get_content().replace("\r\n", "\n")
    assert body.startswith("Hello Alice Buyer,\n")
    assert f"order {ORDER}" in body and "held at the depot" in body
    assert body.rstrip().endswith("Lamp Shop customer service")
    assert sent_folder_ids(imap_account) == [message_id]
    thread = cli.thread()
    assert thread["state"] == "answered" and thread["messages"] == 2
    # The next sync meets maild's own copy in Sent: the same message, not a second one.
    assert cli("run", "--once")[0] == 0
    assert cli.thread()["messages"] == 2
    assert query(tmp_path, "SELECT count(*) FROM message WHERE direction = 'out'") == [(1,)]


@pytest.mark.timeout(60)
def test_server_answering_451_then_250_gets_the_reply_exactly_once(
    cli: Cli, smtp: RecordingSMTPServer, imap_account: ImapAccount, tmp_path: Path
) -> None:
    message_id = reply(cli)
    smtp.handler.fail_next(1, "451 4.3.0 Try again later")

    code, first, _ = cli("run", "--once")
    retrying = query(tmp_path, "SELECT state, attempts, last_error FROM outbox")
    code_again, second, _ = cli("run", "--once")

    assert code == 0 and "retrying 1" in first
    assert retrying[0][:2] == ("queued", 1) and "451" in str(retrying[0][2])
    assert code_again == 0 and "sent 1" in second
    assert [r.reply[:3] for r in smtp.handler.received] == ["451", "250"]
    assert [parsed(r.content)["Message-ID"] for r in smtp.handler.accepted] == [message_id]
    assert query(tmp_path, "SELECT state, attempts FROM outbox") == [("sent", 2)]
    assert cli("run", "--once")[0] == 0
    assert len(smtp.handler.received) == 2


@pytest.mark.timeout(60)
def test_server_answering_550_leaves_the_reply_failed_and_in_the_failed_view(
    cli: Cli, smtp: RecordingSMTPServer, imap_account: ImapAccount, tmp_path: Path
) -> None:
    message_id = reply(cli)
    smtp.handler.fail_next(1, "550 5.1.1 Mailbox unavailable")

    code, out, _ = cli("run", "--once")

    assert code == 0 and "failed 1" in out
    code, failed_view, _ = cli("threads", "--view", "failed", "--json")
    assert [t["id"] for t in json.loads(failed_view)] == [cli.thread()["id"]]
    assert cli.thread()["state"] == "response-needed"
    code, listing, _ = cli("outbox", "--state", "failed", "--json")
    [entry] = json.loads(listing)
    assert (
        entry["message_id"] == message_id and "550 5.1.1 Mailbox unavailable" in entry["last_error"]
    )
    assert sent_folder_ids(imap_account) == []
    # The agent fixes the cause and sends it again: the same message, once more.
    assert cli("retry", message_id)[0] == 0
    assert cli("run", "--once")[0] == 0
    assert [parsed(r.content)["Message-ID"] for r in smtp.handler.accepted] == [message_id]
    assert json.loads(cli("threads", "--view", "failed", "--json")[1]) == []
    assert cli.thread()["state"] == "answered"


@pytest.mark.timeout(60)
def test_interrupted_attempt_whose_message_the_server_filed_in_sent_is_not_sent_again(
    cli: Cli, smtp: RecordingSMTPServer, imap_account: ImapAccount, tmp_path: Path
) -> None:
    """The window of the at-most-once protocol: the server took the message, maild died
    before recording it. A server that files submissions in Sent (Gmail, Microsoft 365)
    has the copy there, and recovery finds it instead of sending a second one."""
    message_id = reply(cli)
    [(raw,)] = query(tmp_path, "SELECT raw FROM outbox")
    assert isinstance(raw, bytes)
    append_to_sent(imap_account, raw)
    query(
        tmp_path,
        "UPDATE outbox SET state = 'sending', attempts = 1, "
        "attempted_at = '2026-01-01 00:00:00.000000'",
    )

    code, out, _ = cli("run", "--once")

    assert code == 0 and "recovered 1" in out and "sent 0" in out
    assert smtp.handler.received == []
    assert query(tmp_path, "SELECT state, smtp_reply FROM outbox") == [
        ("sent", "found in the Sent folder after a restart")
    ]
    assert sent_folder_ids(imap_account) == [message_id]
    assert cli.thread()["state"] == "answered"


def test_a_reply_breaking_the_policy_is_refused_with_reasons_and_stored_nowhere(
    cli: Cli, tmp_path: Path
) -> None:
    draft = tmp_path / "reply.txt"
    draft.write_text("Sorry! Visit cheap-deals.com for 20% off your next order.")

    code, out, err = cli("reply", str(cli.thread()["id"]), "--body-file", str(draft))

    assert code == 1 and out == ""
    assert "external-link: text 13-28: 'cheap-deals.com'" in err
    assert "marketing: text 33-40: '20% off'" in err
    assert "refused by the outbound policy (external-link, marketing); nothing was queued" in err
    assert query(tmp_path, "SELECT count(*) FROM outbox") == [(0,)]
    # Kept for the daemon to count in maild_outbound_blocked_total; the text is not kept.
    assert query(tmp_path, "SELECT rule, origin FROM policy_refusal ORDER BY rule") == [
        ("external-link", "agent"),
        ("marketing", "agent"),
    ]


def test_a_template_variable_without_a_value_or_an_empty_text_queues_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    code, _, err = cli("reply", str(cli.thread()["id"]), "--template", "ticket-clarify-en")

    assert code == 1
    assert "template 'ticket-clarify-en' needs question" in err and "--var question=" in err
    empty = tmp_path / "empty.txt"
    empty.write_text(" \n")
    code, _, err = cli("reply", str(cli.thread()["id"]), "--body-file", str(empty))
    assert code == 1 and "the message has no text" in err
    assert query(tmp_path, "SELECT count(*) FROM outbox") == [(0,)]


@pytest.mark.timeout(60)
def test_reply_to_a_flagged_pre_sale_message_takes_the_flag_off(
    cli: Cli, smtp: RecordingSMTPServer, imap_account: ImapAccount, tmp_path: Path
) -> None:
    seed_customer_message(
        imap_account,
        b"From: Bob <bob@buyers.example>\r\nTo: support@shop.example\r\nSubject: lamp colours\r\n"
        b"Message-ID: <p1@buyers.example>\r\n\r\nDoes the desk lamp come in red?\r\n",
    )
    assert cli("run", "--once")[0] == 0
    assert cli("flag", "<p1@buyers.example>", "--reason", "spam")[0] == 0
    spam = cli("threads", "--view", "spam", "--json")[1]
    [flagged] = json.loads(spam)
    draft = tmp_path / "reply.txt"
    draft.write_text("Hello Bob, yes: the desk lamp comes in red and in white.")

    assert cli("reply", str(flagged["id"]), "--body-file", str(draft))[0] == 0
    assert cli("run", "--once")[0] == 0

    [received] = smtp.handler.accepted
    assert parsed(received.content)["In-Reply-To"] == "<p1@buyers.example>"
    assert json.loads(cli("threads", "--view", "spam", "--json")[1]) == []
    assert query(tmp_path, "SELECT action, origin FROM feedback ORDER BY id") == [
        ("flag", "agent"),
        ("unflag", "reply"),
    ]


@pytest.mark.timeout(60)
def test_a_proactive_message_about_an_order_joins_its_conversation(
    cli: Cli, smtp: RecordingSMTPServer
) -> None:
    code, _, err = cli(
        "send", "--mailbox", "shop", "--to", BUYER, "--order-id", ORDER,
        "--template", "exchange-arranged-en", "--var", "sub_order_id=2 of 2",
    )  # fmt: skip
    assert code == 0, err
    assert cli("run", "--once")[0] == 0

    [received] = smtp.handler.accepted
    message = parsed(received.content)
    assert message["Subject"] == f"Exchange arranged for order {ORDER}"
    assert message["In-Reply-To"] is None
    assert "package 2 of 2 of order" in message.get_content()
    thread = cli.thread()
    assert thread["messages"] == 2 and thread["state"] == "answered"


def test_a_queued_reply_the_changed_policy_now_forbids_is_failed_with_the_reason(
    cli: Cli, smtp: RecordingSMTPServer, tmp_path: Path
) -> None:
    message_id = reply(cli)
    config = Path(cli.config)
    config.write_text(
        config.read_text().replace(
            'shop_name = "Lamp Shop"\n', 'shop_name = "Lamp Shop"\nmarketing_phrases = ["depot"]\n'
        )
    )

    code, out, _ = cli("run", "--once")

    assert code == 0 and "failed 1" in out
    assert smtp.handler.received == []
    [(state, error)] = query(tmp_path, "SELECT state, last_error FROM outbox")
    assert state == "failed"
    assert str(error).startswith("refused by the outbound policy: marketing: 'depot'")
    assert query(tmp_path, "SELECT rule, origin FROM policy_refusal") == [("marketing", "sender")]
    assert cli("outbox", "--state", "failed")[1].split()[2:4] == ["shop", message_id]
