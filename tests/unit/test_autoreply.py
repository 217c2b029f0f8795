"""Machine mail is told apart from mail people write, on real-looking messages and edge cases.

The table in ``tests/data/autoreply/manifest.toml`` names, per .eml file, what a reader
would call it (out-of-office, bounce, list, relay notification, maild's own mail, or a
customer), including the traps where a customer writes about auto-replies or bounces.
The small tables below pin the header and subject rules one value at a time; they go
through :func:`~maild.ingest.parse.parse` so that a header the parser does not keep
fails here too.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from maild.domain import ParsedMail
from maild.ingest.autoreply import LOOP_HEADER, MachineKind, detect
from maild.ingest.parse import parse

DATA = Path(__file__).resolve().parents[1] / "data" / "autoreply"
MANIFEST: dict[str, Any] = tomllib.loads((DATA / "manifest.toml").read_text(encoding="utf-8"))
OWN_DOMAINS: list[str] = MANIFEST["own_domains"]
CASES: dict[str, dict[str, str]] = MANIFEST["messages"]
CUSTOMER = "customer"


def load(name: str) -> ParsedMail:
    return parse((DATA / name).read_bytes())


def kind_of(parsed: ParsedMail, own_domains: list[str] = OWN_DOMAINS) -> str:
    found = detect(parsed, own_domains=own_domains)
    return CUSTOMER if found is None else found.kind.value


def test_manifest_names_every_message_file_and_only_those() -> None:
    assert set(CASES) == {path.name for path in DATA.glob("*.eml")}


def test_manifest_kinds_are_known_kinds() -> None:
    known = {kind.value for kind in MachineKind} | {CUSTOMER}
    assert {case["kind"] for case in CASES.values()} <= known


@pytest.mark.parametrize(
    "name", sorted(CASES), ids=[f"{Path(n).stem}-is-{CASES[n]['kind']}" for n in sorted(CASES)]
)
def test_message_is_classified_as_a_reader_would(name: str) -> None:
    assert kind_of(load(name)) == CASES[name]["kind"], CASES[name]["why"]


def test_the_table_covers_every_kind_and_many_customers() -> None:
    kinds = [case["kind"] for case in CASES.values()]
    assert set(kinds) == {kind.value for kind in MachineKind} | {CUSTOMER}
    assert kinds.count(CUSTOMER) >= 15


@pytest.mark.parametrize("name", sorted(n for n in CASES if CASES[n]["kind"] != CUSTOMER))
def test_reason_never_echoes_message_content(name: str) -> None:
    parsed = load(name)
    found = detect(parsed, own_domains=OWN_DOMAINS)
    assert found is not None
    assert found.reason.isascii() and "@" not in found.reason and len(found.reason) <= 60
    assert parsed.subject not in found.reason


def test_own_domain_matches_whatever_its_case_or_trailing_dot() -> None:
    parsed = load("maild_message_id_without_loop_header.eml")
    assert kind_of(parsed, ["MAILD.Seller.Example."]) == MachineKind.OWN_LOOP
    assert kind_of(parsed, ["seller.example"]) == CUSTOMER  # a parent domain is not maild's


def test_loop_header_is_kept_by_the_parser() -> None:
    raw = f"From: a@b.example\nSubject: s\n{LOOP_HEADER}: shop-1\n\nbody\n".encode()
    assert LOOP_HEADER.lower() in parse(raw).headers


def message(subject: str, *fields: str, sender: str = "buyer@buyers.example") -> ParsedMail:
    head = "\n".join((f"From: {sender}", "To: support@seller.example", f"Subject: {subject}"))
    extra = "".join(f"{line}\n" for line in fields)
    return parse(f"{head}\nMessage-ID: <m1@buyers.example>\n{extra}\nHello\n".encode())


HEADER_CASES = {
    "auto-submitted-no-is-a-person": ("Auto-Submitted: no", CUSTOMER),
    "auto-submitted-no-any-case-with-comment-is-a-person": (
        "Auto-Submitted: No (sent by me)",
        CUSTOMER,
    ),
    "auto-submitted-empty-is-ignored": ("Auto-Submitted:", CUSTOMER),
    "auto-submitted-auto-notified-is-auto-reply": ("Auto-Submitted: auto-notified", "auto_reply"),
    "auto-submitted-with-parameters-is-auto-reply": (
        "Auto-Submitted: auto-replied; owner-email=x@y.example",
        "auto_reply",
    ),
    "auto-submitted-vacation-value-is-out-of-office": ("Auto-Submitted: vacation", "out_of_office"),
    "x-autoreply-no-is-a-person": ("X-Autoreply: no", CUSTOMER),
    "x-autoreply-yes-is-auto-reply": ("X-Autoreply: YES", "auto_reply"),
    "precedence-junk-is-bulk": ("Precedence: junk", "bulk"),
    "precedence-first-class-is-a-person": ("Precedence: first-class", CUSTOMER),
    "list-id-is-bulk": ("List-Id: <news.shop.example>", "bulk"),
    "amazon-relay-type-other-than-notification-is-ignored": (
        "X-AMAZON-MAIL-RELAY-TYPE: conversation",
        CUSTOMER,
    ),
    "x-loop-vacation-program-is-out-of-office": (
        "X-Loop: Postfix Admin Virtual Vacation",
        "out_of_office",
    ),
    "x-failed-recipients-alone-is-bounce": ("X-Failed-Recipients: gone@buyers.example", "bounce"),
    "report-without-report-type-is-auto-reply": (
        'Content-Type: multipart/report; boundary="b"',
        "auto_reply",
    ),
    "null-return-path-alone-is-auto-reply": ("Return-Path: <>", "auto_reply"),
    "auto-response-suppress-alone-is-a-person": ("X-Auto-Response-Suppress: All", CUSTOMER),
}


@pytest.mark.parametrize(("field", "expected"), HEADER_CASES.values(), ids=HEADER_CASES.keys())
def test_header_rule(field: str, expected: str) -> None:
    assert kind_of(message("Order 137-1122334-5566778", field)) == expected


SUBJECT_CASES = {
    "automatic-reply-prefix-is-out-of-office": ("Automatic reply: Order 1", "out_of_office"),
    "full-width-colon-prefix-counts": ("Automatic Reply：Order 1", "out_of_office"),
    "out-of-the-office-prefix-is-out-of-office": (
        "Out of the Office: back Monday",
        "out_of_office",
    ),
    "autoreply-prefix-is-auto-reply": ("AutoReply: Re: Order 1", "auto_reply"),
    "auto-response-prefix-is-auto-reply": ("Auto-Response: thanks", "auto_reply"),
    "zh-auto-reply-prefix-with-vacation-is-out-of-office": (
        "自动回复：我在休假",
        "out_of_office",
    ),
    "zh-exchange-prefix-is-out-of-office": ("自动答复: 订单", "out_of_office"),
    "reply-to-an-auto-reply-is-a-person": ("RE: Automatic reply: Order 1", CUSTOMER),
    "zh-reply-to-an-auto-reply-is-a-person": ("回复: 自动回复: 订单", CUSTOMER),
    "forward-of-an-auto-reply-is-a-person": ("Fwd: Out of Office AutoReply: x", CUSTOMER),
    "prefix-without-colon-is-a-person": ("Automatic reply was useless", CUSTOMER),
    "bare-auto-prefix-with-vacation-words-is-out-of-office": (
        "Auto: Li Na is on vacation",
        "out_of_office",
    ),
    "bare-auto-prefix-alone-is-a-person": ("Auto: Re: Order 1", CUSTOMER),
    "whole-subject-out-of-office-is-a-person": ("Out of Office", CUSTOMER),
    "whole-subject-zh-away-is-a-person": ("休假中", CUSTOMER),
    "bounce-subject-from-a-person-is-a-person": ("Undelivered Mail Returned to Sender", CUSTOMER),
}


@pytest.mark.parametrize(("subject", "expected"), SUBJECT_CASES.values(), ids=SUBJECT_CASES.keys())
def test_subject_rule(subject: str, expected: str) -> None:
    assert kind_of(message(subject)) == expected


SENDER_CASES = {
    "mailer-daemon-is-bounce": ("MAILER-DAEMON@mx.example", "Hello", "bounce"),
    "postmaster-with-bounce-subject-is-bounce": ("postmaster@mx.example", "退信通知", "bounce"),
    "postmaster-with-other-subject-is-a-person": ("postmaster@shop.example", "Order 1", CUSTOMER),
}


@pytest.mark.parametrize(
    ("sender", "subject", "expected"), SENDER_CASES.values(), ids=SENDER_CASES.keys()
)
def test_sender_rule(sender: str, subject: str, expected: str) -> None:
    assert kind_of(message(subject, sender=sender)) == expected


@pytest.mark.parametrize(
    "sender",
    ["3xk9qz7m2vlp8rw@marketplace.amazon.co.uk", "a1b2+c3d4-e5f6@marketplace.amazon.de"],
)
def test_amazon_buyer_relay_stays_a_customer_in_any_marketplace(sender: str) -> None:
    relayed = message("Question", "X-AMAZON-MAIL-RELAY-TYPE: notification", sender=sender)
    assert kind_of(relayed) == CUSTOMER


@pytest.mark.parametrize(
    "sender", ["donotreply@marketplace.amazon.co.uk", "no-reply@marketplace.amazon.com"]
)
def test_amazon_no_reply_sender_is_a_relay_notification(sender: str) -> None:
    notice = message("Notice", "X-AMAZON-MAIL-RELAY-TYPE: Notification", sender=sender)
    assert kind_of(notice) == MachineKind.RELAY_NOTIFICATION


def test_own_loop_wins_over_other_marks() -> None:
    echoed = message("Re: Order 1", f"{LOOP_HEADER}: shop-1", "Precedence: bulk")
    assert kind_of(echoed) == MachineKind.OWN_LOOP


def test_bounce_wins_over_auto_submitted() -> None:
    bounce = message(
        "Mail delivery failed", "Auto-Submitted: auto-replied", sender="MAILER-DAEMON@x.example"
    )
    assert kind_of(bounce) == MachineKind.BOUNCE
