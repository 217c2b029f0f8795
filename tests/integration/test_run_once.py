"""`maild run --once` against a real Dovecot: every message once, unaltered, server untouched."""

import asyncio
import json
from pathlib import Path

import pytest

from maild.cli import EX_PROBLEMS, main
from maild.store import Store
from tests.support.config_files import mailbox_table, password_variable, write_config
from tests.support.dovecot import ImapAccount
from tests.support.imap_session import imap_session
from tests.support.mailgen import make_message, make_messages

pytestmark = pytest.mark.dovecot


def mailbox(
    monkeypatch: pytest.MonkeyPatch,
    account: ImapAccount,
    name: str = "walmart-us",
    *,
    security: str = "none",
    password: str | None = None,
    folders: tuple[str, ...] = ("INBOX",),
) -> str:
    monkeypatch.setenv(password_variable(name), account.password if password is None else password)
    return mailbox_table(account, name, security=security, folders=folders, fetch_batch=50)


def stats(config: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    capsys.readouterr()
    assert main(["--config", str(config), "stats", "--json"]) == 0
    result: dict[str, object] = json.loads(capsys.readouterr().out)
    return result


def test_run_once_stores_every_message_and_a_second_run_stores_none(
    imap_account: ImapAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    imap_account.deliver(make_messages(420, seed=3))
    config = write_config(tmp_path, mailbox(monkeypatch, imap_account))
    assert main(["--config", str(config), "run", "--once"]) == 0
    assert "walmart-us: ok, fetched 420, stored 420 new" in capsys.readouterr().out
    assert main(["--config", str(config), "run", "--once"]) == 0
    assert "walmart-us: ok, fetched 0, stored 0 new" in capsys.readouterr().out
    result = stats(config, capsys)
    assert result["messages"] == 420
    inbox = result["mailboxes"]["walmart-us"]["folders"]["INBOX"]  # type: ignore[index]
    assert (inbox["last_uid"], inbox["last_error"]) == (420, None)
    assert inbox["last_sync"] is not None


def test_run_once_processes_everything_it_lands_on_either_database(
    imap_account: ImapAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    database_url: str,
) -> None:
    # Its worker pool may be forked from a process that already holds a connection to
    # the database: each worker must open its own, on SQLite and PostgreSQL alike.
    imap_account.deliver(make_messages(300, seed=4))
    config = write_config(tmp_path, mailbox(monkeypatch, imap_account), database_url=database_url)
    assert main(["--config", str(config), "run", "--once"]) == 0
    out = capsys.readouterr().out
    assert "walmart-us: ok, fetched 300, stored 300 new" in out
    assert "processed 300, quarantined 0" in out
    assert stats(config, capsys)["messages"] == 300


async def test_stored_bytes_equal_what_the_server_holds_and_no_flag_is_changed(
    imap_account: ImapAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent = [make_message(i, seed=8) for i in range(3)]
    sent.append(b"Subject: bare LF only\n\n8-bit \xe4\xbd\xa0\xe5\xa5\xbd\n")
    async with imap_session(imap_account) as client:
        for raw in sent:
            async with asyncio.timeout(10):
                await client.append(raw, mailbox="INBOX")
    config = write_config(tmp_path, mailbox(monkeypatch, imap_account))
    assert await asyncio.to_thread(main, ["--config", str(config), "run", "--once"]) == 0
    store = Store.open(f"sqlite:///{tmp_path / 'maild.db'}")
    stored = [store.raw_message(pk) for pk in store.message_pks("walmart-us")]
    store.close()
    async with imap_session(imap_account) as client:
        async with asyncio.timeout(10):
            await client.select("INBOX")
            served = await client.uid("fetch", "1:*", "(BODY.PEEK[])")
            flags = await client.uid("fetch", "1:*", "(FLAGS)")
    # IMAP serves CRLF line ends, so the bare-LF message comes back with CRLF.
    assert sorted(stored) == sorted(bytes(x) for x in served.lines if isinstance(x, bytearray))
    assert len(stored) == len(sent)
    assert b"\\Seen" not in b" ".join(line for line in flags.lines if isinstance(line, bytes))


def test_verified_tls_login_works_with_a_trusted_certificate(
    imap_account: ImapAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    imap_account.deliver([make_message(1, seed=4)])
    monkeypatch.setenv("SSL_CERT_FILE", str(imap_account.ca_pem))
    for security in ("tls", "starttls"):
        config = write_config(tmp_path, mailbox(monkeypatch, imap_account, security=security))
        assert main(["--config", str(config), "run", "--once"]) == 0, capsys.readouterr()
    assert stats(config, capsys)["messages"] == 1


def test_untrusted_certificate_is_refused_with_a_clear_reason(
    imap_account: ImapAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_config(tmp_path, mailbox(monkeypatch, imap_account, security="tls"))
    assert main(["--config", str(config), "run", "--once"]) == EX_PROBLEMS
    assert "TLS certificate not trusted" in capsys.readouterr().out


def test_wrong_password_fails_only_its_own_mailbox(
    dovecot: object,
    imap_account: ImapAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    other = imap_account.server.new_account()
    imap_account.deliver(make_messages(5, seed=5))
    other.deliver(make_messages(7, seed=6))
    config = write_config(
        tmp_path,
        mailbox(monkeypatch, imap_account, "good"),
        mailbox(monkeypatch, other, "bad", password="not-the-password"),
    )
    assert main(["--config", str(config), "run", "--once"]) == EX_PROBLEMS
    out = capsys.readouterr().out
    assert "good: ok, fetched 5, stored 5 new" in out
    assert "bad: FAILED" in out
    assert "login refused" in out
    assert "not-the-password" not in out
    result = stats(config, capsys)
    assert result["messages"] == 5


def test_missing_folder_is_reported_and_the_other_folders_still_sync(
    imap_account: ImapAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    imap_account.deliver(make_messages(3, seed=7))
    config = write_config(tmp_path, mailbox(monkeypatch, imap_account, folders=("Nope", "INBOX")))
    assert main(["--config", str(config), "run", "--once"]) == EX_PROBLEMS
    out = capsys.readouterr().out
    assert "Nope: " in out
    result = stats(config, capsys)
    assert result["messages"] == 3


@pytest.mark.slow
def test_ten_thousand_messages_are_stored_once_across_two_runs(
    imap_account: ImapAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    imap_account.deliver(make_messages(10_000, seed=10))
    config = write_config(tmp_path, mailbox(monkeypatch, imap_account))
    assert main(["--config", str(config), "run", "--once"]) == 0
    assert main(["--config", str(config), "run", "--once"]) == 0
    out = capsys.readouterr().out
    assert "fetched 10000, stored 10000 new" in out
    assert "fetched 0, stored 0 new" in out
    assert stats(config, capsys)["messages"] == 10_000


async def test_recreated_folder_is_resynced_without_duplicates_and_the_change_counted(
    imap_account: ImapAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    originals = [make_message(i, seed=12) for i in range(30)]
    imap_account.deliver(originals, folder="Support")
    config = write_config(tmp_path, mailbox(monkeypatch, imap_account, folders=("Support",)))
    run = ["--config", str(config), "run", "--once"]
    assert await asyncio.to_thread(main, run) == 0
    async with imap_session(imap_account) as client:
        async with asyncio.timeout(10):
            assert (await client.delete("Support")).result == "OK"
    newcomers = [make_message(i, seed=13) for i in range(5)]
    imap_account.deliver(originals + newcomers, folder="Support")
    assert await asyncio.to_thread(main, run) == 0
    assert "fetched 35, stored 5 new" in capsys.readouterr().out
    result = stats(config, capsys)
    support = result["mailboxes"]["walmart-us"]["folders"]["Support"]  # type: ignore[index]
    assert result["messages"] == 35
    assert (support["uidvalidity_changes"], support["last_uid"]) == (1, 35)
