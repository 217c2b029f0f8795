"""Processing tags and classifies inbound mail a person wrote, and the views follow."""

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from maild.classify.model import load_model, save_model
from maild.cli import EX_CONFIG, main
from tests.support.campaigns import CAMPAIGN, with_campaign
from tests.support.config_files import mailbox_table, password_variable, write_config
from tests.support.dovecot import ImapAccount
from tests.support.tiny_corpus import train_tiny_model

pytestmark = pytest.mark.dovecot

ORDER = "113-4567890-1234567"


def mail(
    n: int, subject: str, body: str, sender: str = "buyer@mail.example", extra: str = ""
) -> bytes:
    return (
        f"From: {sender}\r\nTo: support@shop.example\r\nSubject: {subject}\r\n{extra}"
        f"Message-ID: <c{n}@classify.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{body}\r\n"
    ).encode()


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_tiny_model(tmp_path_factory.mktemp("model"))


def configure(account: ImapAccount, tmp_path: Path, model: Path) -> str:
    table = mailbox_table(account, preset="amazon", keys=f'classifier_model = "{model}"\n')
    return str(write_config(tmp_path, table))


def test_pre_sale_fraud_goes_to_spam_and_an_order_question_stays_in_all(
    imap_account: ImapAccount,
    tmp_path: Path,
    model: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fraud = "Your account is suspended. Verify your password and bank card within 24 hours."
    imap_account.deliver(
        [
            mail(1, "Account suspended", fraud, sender="security@bank.example"),
            mail(2, f"Order {ORDER}", f"Hello, order {ORDER}: the lamp arrived broken."),
            mail(3, f"Order {ORDER} refund", f"Order {ORDER}. {fraud}", sender="odd@mail.example"),
            # No order ID of its own, but a reply in the order's conversation.
            mail(4, "Re: lamp", fraud, extra="In-Reply-To: <c2@classify.test>\r\n"),
        ]
    )
    monkeypatch.setenv(password_variable("shop"), imap_account.password)
    config = configure(imap_account, tmp_path, model)
    assert main(["--config", config, "run", "--once"]) == 0

    engine = create_engine(f"sqlite:///{tmp_path / 'maild.db'}")
    with engine.connect() as connection:
        verdicts = connection.execute(
            text("SELECT class_label, model_version FROM message ORDER BY id")
        ).all()
        labels = connection.execute(
            text("SELECT message_pk, name, source FROM label ORDER BY message_pk, name")
        ).all()
    engine.dispose()
    version = load_model(model).version
    assert [v.class_label for v in verdicts] == ["fraud", "ham", "fraud", "fraud"]
    assert {v.model_version for v in verdicts} == {version}
    # The order-tied fraud keeps its verdict but no label: it must not leave the All view.
    assert [(pk, name, source) for pk, name, source in labels if source == "model"] == [
        (1, "fraud", "model"),
        (4, "fraud", "model"),
    ]
    assert {(pk, name) for pk, name, source in labels if source == "rule"} >= {
        (1, "pre-sale"),
        (2, "after-sale"),
        (3, "after-sale"),
    }

    capsys.readouterr()
    assert main(["--config", config, "threads", "--view", "spam", "--json"]) == 0
    spam = json.loads(capsys.readouterr().out)
    assert [t["subject"] for t in spam] == ["Account suspended"]
    assert main(["--config", config, "threads", "--json"]) == 0
    # The model's label on message 4 never hides the order's conversation it replies in.
    listed = json.loads(capsys.readouterr().out)
    assert all(t["subject"] != "Account suspended" for t in listed)
    assert [t["order_ids"] for t in listed] == [[ORDER]]


def test_a_label_from_a_known_campaign_is_stored_and_shown_with_its_reason(
    imap_account: ImapAccount,
    tmp_path: Path,
    model: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Usual thresholds nothing reaches: only closeness to the campaign can flag.
    campaigns = tmp_path / "campaigns.npz"
    save_model(with_campaign(load_model(model), near=1e-6), campaigns)
    resent = CAMPAIGN.body.replace("88812", "90417")
    imap_account.deliver(
        [
            mail(1, CAMPAIGN.subject, resent, sender="desk@parcel.example"),
            mail(2, "Lamp colour", "Hello, does the lamp come in blue?"),
        ]
    )
    monkeypatch.setenv(password_variable("shop"), imap_account.password)
    config = configure(imap_account, tmp_path, campaigns)
    assert main(["--config", config, "run", "--once"]) == 0

    capsys.readouterr()
    assert main(["--config", config, "threads", "--view", "spam", "--json"]) == 0
    (spam,) = json.loads(capsys.readouterr().out)
    assert main(["--config", config, "show", str(spam["id"]), "--json"]) == 0
    (shown,) = json.loads(capsys.readouterr().out)["messages"]
    assert shown["labels"] == ["pre-sale", "spam"]
    verdict = shown["verdict"]
    assert (verdict["label"], verdict["known_campaign"]) == ("spam", True)
    assert verdict["model_version"] == load_model(campaigns).version
    assert main(["--config", config, "show", str(spam["id"])]) == 0
    score = f"{verdict['scores']['spam']:.4f}"
    assert f"classifier: spam {score}, close to a known spam or phishing campaign" in (
        capsys.readouterr().out
    )

    assert main(["--config", config, "threads", "--json"]) == 0
    (question,) = json.loads(capsys.readouterr().out)
    assert main(["--config", config, "show", str(question["id"]), "--json"]) == 0
    (ham,) = json.loads(capsys.readouterr().out)["messages"]
    assert (ham["verdict"]["label"], ham["verdict"]["known_campaign"]) == ("ham", False)
    assert main(["--config", config, "show", str(question["id"])]) == 0
    assert "classifier:" not in capsys.readouterr().out


def test_a_configured_model_that_does_not_load_stops_run_with_a_config_error(
    imap_account: ImapAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tampered = tmp_path / "tampered.npz"
    tampered.write_bytes(b"PK\x03\x04 not a model")
    monkeypatch.setenv(password_variable("shop"), imap_account.password)

    code = main(["--config", configure(imap_account, tmp_path, tampered), "run", "--once"])

    err = capsys.readouterr().err
    assert code == EX_CONFIG
    assert "cannot start" in err and "tampered.npz" in err and "Traceback" not in err
