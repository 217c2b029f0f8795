"""``maild policy check``: exit codes, text and JSON output, and every draft format."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from maild.cli import main
from maild.outbound.template_files import SHIPPED_TEMPLATES, load_template
from maild.outbound.templates import fill
from tests.support.tiny_corpus import TEMPLATES, train_tiny_model

CONFIG = """\
[database]
url = "sqlite:///{directory}/maild.db"

[mailboxes.amazon]
address = "support@shop.example"
preset = "amazon"
allowed_domains = ["amazon.com"]

[mailboxes.amazon.imap]
host = "imap.example.com"
username = "support@shop.example"
password_env = "MAILD_POLICY_TEST_PASSWORD"

[mailboxes.amazon.outbound]
allowed_contacts = ["qq"]
"""

EML = b"""\
From: support@shop.example
To: buyer@marketplace.amazon.com
Subject: Re: order 113-4567890-1234567
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: multipart/alternative; boundary="b2"

--b2
Content-Type: text/plain; charset=utf-8

Your order 113-4567890-1234567 shipped. Questions? QQ 12345678

--b2
Content-Type: text/html; charset=utf-8

<p>Your order shipped. <a href="https://evil.example/track">amazon.com</a></p>
--b2--

--b1
Content-Type: application/x-msdownload; name="tool.exe"
Content-Disposition: attachment; filename="tool.exe"
Content-Transfer-Encoding: base64

TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAA
--b1--
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MAILD_POLICY_TEST_PASSWORD", "pw")
    path = tmp_path / "maild.toml"
    path.write_text(CONFIG.format(directory=tmp_path), encoding="utf-8")
    return path


def run(config: Path, *args: str) -> int:
    return main(["--config", str(config), "policy", "check", "--mailbox", "amazon", *args])


def test_a_clean_draft_exits_0(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    draft = tmp_path / "reply.txt"
    draft.write_text("Order 113-4567890-1234567 shipped; see amazon.com. QQ号：12345678")
    assert run(config, str(draft)) == 0
    assert capsys.readouterr().out == "ok: no violations\n"


def test_violations_exit_1_with_rule_position_text_and_hint(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    draft = tmp_path / "reply.txt"
    draft.write_text("Hi! Visit example[.]com, 好评返现")
    assert run(config, str(draft)) == 1
    out = capsys.readouterr().out
    assert "external-link: text 10-23: 'example[.]com'" in out
    assert "disguised link to example.com" in out
    assert "marketing: text 25-29: '好评返现'" in out
    assert out.endswith("2 violations: the marketplace would refuse this draft\n")


def test_json_lists_one_object_per_violation(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"call 13812345678")))
    assert run(config, "-", "--json") == 1
    [violation] = json.loads(capsys.readouterr().out)
    assert violation == {
        "rule": "contact-info",
        "part": "text",
        "start": 5,
        "end": 16,
        "text": "13812345678",
        "hint": violation["hint"],
    }


def test_an_eml_draft_is_checked_in_text_html_and_attachments(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    draft = tmp_path / "reply.eml"
    draft.write_bytes(EML)
    assert run(config, str(draft), "--json") == 1
    found = [(v["part"], v["rule"], v["text"]) for v in json.loads(capsys.readouterr().out)]
    assert found == [
        ("html", "external-link", "https://evil.example/track"),
        ("attachments", "attachment", "tool.exe"),
    ]


def test_html_on_stdin_is_read_as_html(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    html = b'<p><img src="https://pixel.example/o.gif"></p>'
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(html)))
    assert run(config, "--json") == 1
    [violation] = json.loads(capsys.readouterr().out)
    assert (violation["part"], violation["text"]) == ("html", "https://pixel.example/o.gif")


def test_an_unknown_mailbox_or_missing_file_is_a_usage_error(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(config), "policy", "check", "--mailbox", "nope", "x"]) == 2
    assert "no mailbox 'nope' (configured: amazon)" in capsys.readouterr().err
    assert run(config, str(tmp_path / "missing.txt")) == 2
    assert "cannot read" in capsys.readouterr().err


def test_the_subject_of_an_eml_draft_is_checked_too(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    draft = tmp_path / "reply.eml"
    draft.write_bytes(
        b"From: support@shop.example\r\n"
        b"Subject: =?utf-8?b?5aW96K+E6L+U546w?= see cheap-deals.com\r\n"
        b"\r\nYour order 113-4567890-1234567 shipped.\r\n"
    )
    assert run(config, str(draft), "--json") == 1
    found = [(v["part"], v["rule"], v["text"]) for v in json.loads(capsys.readouterr().out)]
    assert found == [
        ("subject", "marketing", "好评返现"),
        ("subject", "external-link", "cheap-deals.com"),
    ]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_tiny_model(tmp_path_factory.mktemp("model"))


def test_with_a_model_a_draft_it_scores_as_spam_is_refused_as_marketing(
    config: Path, model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No phrase on the list, but the mailbox's classifier knows bulk promotion."""
    spammy = tmp_path / "spammy.txt"
    spammy.write_text(TEMPLATES["spam"][0].format(en="lamp"))
    plain = tmp_path / "plain.txt"
    plain.write_text(TEMPLATES["ham"][0].format(en="lamp"))
    assert run(config, str(spammy)) == 0  # the phrase list alone lets it through
    capsys.readouterr()
    text = config.read_text().replace(
        'preset = "amazon"\n', f'preset = "amazon"\nclassifier_model = "{model}"\n'
    )
    config.write_text(text)

    assert run(config, str(plain)) == 0
    capsys.readouterr()
    assert run(config, str(spammy), "--json") == 1
    [violation] = json.loads(capsys.readouterr().out)
    assert violation["rule"] == "marketing"
    assert "the spam classifier scores this draft" in violation["hint"]


def invitation(language: str) -> str:
    """The shipped review invitation, filled as `maild reply` fills it."""
    template = load_template(SHIPPED_TEMPLATES, f"review-invitation-{language}")
    values = {
        "order_id": "113-4567890-1234567",
        "sub_order_id": "113-4567890-1234567-2",
        "customer_name": "Alice",
        "shop_name": "Lamp Shop",
    }
    return fill(template, values).body


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_review_invitation_passes_policy_check(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], language: str
) -> None:
    draft = tmp_path / "invitation.txt"
    draft.write_text(invitation(language), encoding="utf-8")
    assert run(config, str(draft)) == 0
    assert capsys.readouterr().out == "ok: no violations\n"


@pytest.mark.parametrize(
    ("language", "incentive"),
    [
        ("en", "Leave a 5-star review and we will refund $5 of your order."),
        ("en", "Please leave us a positive review if you like it."),
        ("en", "A $10 gift card is yours after a good review."),
        ("zh", "好评返现5元，截图发给客服即可。"),
        ("zh", "亲，满意的话给个好评哦。"),
        ("zh", "五星好评送小礼品一份。"),
    ],
)
def test_review_invitations_with_an_incentive_or_a_verdict_asked_for_are_refused(
    config: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    language: str,
    incentive: str,
) -> None:
    draft = tmp_path / "invitation.txt"
    draft.write_text(f"{invitation(language)}\n{incentive}\n", encoding="utf-8")
    assert run(config, str(draft), "--json") == 1
    found = json.loads(capsys.readouterr().out)
    assert [v["rule"] for v in found] == ["marketing"]
    assert found[0]["text"] in incentive
