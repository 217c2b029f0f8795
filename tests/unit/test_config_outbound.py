"""The [mailboxes.NAME.outbound] table: defaults, and every mistake located and explained."""

from __future__ import annotations

from pathlib import Path

from maild.outbound.model import DEFAULT_ATTACHMENT_TYPES, DEFAULT_MAX_ATTACHMENT_BYTES
from tests.unit.test_config import BASE, load, problems_of


def test_a_mailbox_without_an_outbound_table_denies_by_default(tmp_path: Path) -> None:
    outbound = load(tmp_path, BASE).mailboxes["shop"].outbound
    assert outbound.disabled_rules == ()
    assert outbound.allowed_contacts == ()
    assert outbound.attachment_types == DEFAULT_ATTACHMENT_TYPES
    assert outbound.max_attachment_bytes == DEFAULT_MAX_ATTACHMENT_BYTES


def test_outbound_keys_are_read(tmp_path: Path) -> None:
    text = BASE + (
        "\n[mailboxes.shop.outbound]\n"
        'disabled_rules = ["marketing"]\n'
        'marketing_phrases = ["  mega   deal "]\n'
        'allowed_contacts = ["phone", "wechat"]\n'
        'attachment_types = ["pdf", "csv"]\n'
        "max_attachment_bytes = 2048\n"
        'phone_regions = ["DE"]\n'
    )
    outbound = load(tmp_path, text).mailboxes["shop"].outbound
    assert outbound.disabled_rules == ("marketing",)
    assert outbound.marketing_phrases == ("mega deal",)
    assert outbound.allowed_contacts == ("phone", "wechat")
    assert outbound.attachment_types == ("pdf", "csv")
    assert outbound.max_attachment_bytes == 2048
    assert outbound.phone_regions == ("DE",)


def test_every_outbound_mistake_is_reported_at_its_line(tmp_path: Path) -> None:
    text = BASE + (
        "\n[mailboxes.shop.outbound]\n"
        'disabled_rules = ["links"]\n'
        'allowed_contacts = ["fax", "fax"]\n'
        'attachment_types = [".pdf"]\n'
        "max_attachment_bytes = -1\n"
        'phone_regions = ["XX"]\n'
        'marketing_phrases = ["   "]\n'
        "unknown = 1\n"
    )
    found = {p.path: (p.line, p.message) for p in problems_of(tmp_path, text)}
    first = BASE.count("\n") + 3
    assert found["mailboxes.shop.outbound.disabled_rules[0]"][0] == first
    assert "'external-link'" in found["mailboxes.shop.outbound.disabled_rules[0]"][1]
    assert "mailboxes.shop.outbound.allowed_contacts[0]" in found
    assert "not a file extension" in found["mailboxes.shop.outbound.attachment_types[0]"][1]
    assert found["mailboxes.shop.outbound.max_attachment_bytes"][0] == first + 3
    assert "not a region code" in found["mailboxes.shop.outbound.phone_regions[0]"][1]
    assert "mailboxes.shop.outbound.marketing_phrases[0]" in found
    assert "mailboxes.shop.outbound.unknown" in found


def test_a_contact_kind_listed_twice_is_refused(tmp_path: Path) -> None:
    text = BASE + '\n[mailboxes.shop.outbound]\nallowed_contacts = ["qq", "qq"]\n'
    [problem] = problems_of(tmp_path, text)
    assert problem.path == "mailboxes.shop.outbound.allowed_contacts"
    assert "'qq' is listed twice" in problem.message
