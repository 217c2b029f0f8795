"""The outbound policy's rules one by one: spans, hints, and what a mailbox may allow."""

from __future__ import annotations

import re
import socket

import pytest

from maild.config.settings import MailboxSettings
from maild.outbound import domains
from maild.outbound.obfuscation import fold
from maild.outbound.policy import (
    Attachment,
    Draft,
    OutboundPolicy,
    Violation,
    check,
    policy_for,
)
from maild.threads.presets import load_preset

AMAZON = OutboundPolicy(
    allowed_domains=("amazon.com",),
    protected=(re.compile(r"[0-9]{3}-[0-9]{7}-[0-9]{7}"),),
)


def only(text: str, policy: OutboundPolicy = AMAZON, html: str | None = None) -> Violation:
    found = check(Draft(text, html), policy)
    assert len(found) == 1, found
    return found[0]


# -- obfuscation: the span is what the seller typed ------------------------------------


@pytest.mark.parametrize(
    "typed",
    ["example[.]com", "example (dot) com", "example dot com", "example。com", "exa\u200bmple.com",
     "hxxp://example[.]net/x", "example点com"],
)  # fmt: skip
def test_a_disguised_link_is_reported_as_the_seller_typed_it(typed: str) -> None:
    text = f"Hello, see {typed} please."
    found = only(text)
    assert found.rule == "external-link"
    assert text[found.span[0] : found.span[1]] == typed == found.text


def test_folding_maps_positions_after_a_disguise_back_to_the_original() -> None:
    folded = fold("a[.]b and c[.]d")
    assert folded.text == "a.b and c.d"
    assert folded.original_span(8, 11) == (10, 15)
    assert folded.kinds(0, 3) == {"dot"}


def test_text_without_disguises_folds_to_itself() -> None:
    assert fold("plain text, no tricks. amazon.com").edits == ()


# -- external-link -------------------------------------------------------------------


def test_subdomains_of_an_allowed_domain_pass_and_lookalikes_do_not() -> None:
    assert check(Draft("see sellercentral.amazon.com and www.amazon.com/x"), AMAZON) == []
    assert only("see amazon.com.evil.cn").rule == "external-link"


def test_a_homoglyph_lookalike_names_the_domain_it_imitates() -> None:
    found = only("sign in at аmazon.com")  # Cyrillic а
    assert "look-alike of amazon.com" in found.hint
    assert "xn--mazon-3ve.com" in found.hint


def test_punycode_of_a_lookalike_is_named_too() -> None:
    assert "look-alike of amazon.com" in only("go to xn--mazon-3ve.com").hint


def test_a_shortener_is_called_a_shortener() -> None:
    assert "link shortener" in only("bit.ly/abc").hint


def test_a_mailbox_without_allowed_domains_allows_no_link() -> None:
    found = only("see amazon.com", OutboundPolicy())
    assert "this mailbox allows no links" in found.hint


def test_an_anchor_whose_text_shows_another_site_says_where_it_leads() -> None:
    html = '<p><a href="https://evil.example/x">amazon.com/orders</a></p>'
    found = only("", html=html)
    assert (found.part, found.rule) == ("html", "external-link")
    assert "shows 'amazon.com/orders' but leads to evil.example" in found.hint
    assert html[found.span[0] : found.span[1]] == "https://evil.example/x"


def test_html_visible_text_is_checked_as_its_own_part() -> None:
    found = only("", html="<p>visit example[.]com</p>")
    assert found.part == "html-text"


def test_the_suffix_list_is_the_bundled_snapshot_and_never_fetched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_network(*_args: object) -> None:
        raise AssertionError("tldextract tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    domains._extract.cache_clear()
    extract = domains._extract()
    assert extract.suffix_list_urls == ()
    assert extract("shop.example.co.uk").suffix == "co.uk"


# -- contact-info --------------------------------------------------------------------


def test_an_order_id_the_preset_knows_is_never_a_phone_number() -> None:
    assert check(Draft("Order 113-4567890-1234567 shipped."), AMAZON) == []


def test_a_phone_number_span_covers_the_number_only() -> None:
    text = "Call +1 415-555-2671 now"
    found = only(text)
    assert found.text == text[found.span[0] : found.span[1]] == "+1 415-555-2671"


def test_allowed_contact_kinds_pass() -> None:
    policy = OutboundPolicy(allowed_contacts=frozenset({"phone", "email", "wechat"}))
    text = "Call 13812345678, mail a@gmail.com, 微信: shop_abc123"
    assert check(Draft(text), policy) == []
    assert only("QQ号：12345678", policy).rule == "contact-info"


def test_phone_numbers_of_a_configured_region_are_found() -> None:
    text = "Ring 030 12345678 please"  # a Berlin number in national format
    assert check(Draft(text), AMAZON) == []
    assert only(text, OutboundPolicy(phone_regions=("DE",))).rule == "contact-info"


# -- marketing -----------------------------------------------------------------------


def test_a_mailbox_adds_its_own_marketing_phrases() -> None:
    policy = OutboundPolicy(marketing_phrases=("clearance event", "清仓"))
    assert only("Our Clearance   Event starts", policy).text == "Clearance   Event"
    assert only("本店清仓", policy).text == "清仓"
    assert check(Draft("Our clearance event starts"), AMAZON) == []


def test_overlapping_marketing_phrases_are_reported_once() -> None:
    assert only("好评返现").text == "好评返现"


# -- attachments and rule switches -----------------------------------------------------


def test_attachment_spans_index_the_attachment_list() -> None:
    files = (Attachment("ok.pdf", "application/pdf", 10), Attachment(None, "image/png", 10))
    [found] = check(Draft("", attachments=files), AMAZON)
    assert (found.part, found.span, found.rule) == ("attachments", (1, 2), "attachment")
    assert "without a file name" in found.hint


def test_configured_attachment_types_and_size_replace_the_default() -> None:
    policy = OutboundPolicy(attachment_types=frozenset({"csv"}), max_attachment_bytes=100)
    assert check(Draft("", attachments=(Attachment("a.csv", "text/csv", 100),)), policy) == []
    too_big = Draft("", attachments=(Attachment("a.csv", "text/csv", 101),))
    assert "more than the 100 allowed" in check(too_big, policy)[0].hint
    pdf = Draft("", attachments=(Attachment("a.pdf", "application/pdf", 1),))
    assert check(pdf, policy)[0].rule == "attachment"


def test_a_disabled_rule_reports_nothing() -> None:
    text = "coupon at example.com, call 13812345678"
    policy = OutboundPolicy(rules=frozenset({"marketing"}))
    assert {v.rule for v in check(Draft(text), policy)} == {"marketing"}


def test_policy_for_takes_the_mailbox_keys_and_the_presets_order_patterns() -> None:
    mailbox = MailboxSettings.model_validate(
        {
            "address": "a@shop.example",
            "preset": "amazon",
            "allowed_domains": ("amazon.com",),
            "imap": {"host": "imap.example", "username": "a"},
            "outbound": {"disabled_rules": ("marketing",), "allowed_contacts": ("qq",)},
        }
    )
    policy = policy_for(mailbox, load_preset("amazon"))
    assert policy.allowed_domains == ("amazon.com",)
    assert "marketing" not in policy.rules
    assert policy.allowed_contacts == {"qq"}
    assert check(Draft("Order 113-4567890-1234567"), policy) == []


def test_a_spam_score_at_the_threshold_is_marketing_and_below_it_or_without_one_is_not() -> None:
    draft = Draft("Cheap lamps, buy now!")
    with_model = OutboundPolicy(spam_threshold=0.9)
    [violation] = check(draft, with_model, spam_score=0.9)
    assert (violation.rule, violation.span) == ("marketing", (0, 21))
    assert "scores this draft 0.90 (refused from 0.90)" in violation.hint
    assert check(draft, with_model, spam_score=0.89) == []
    assert check(draft, OutboundPolicy(), spam_score=0.99) == []
    off = OutboundPolicy(spam_threshold=0.9, rules=frozenset({"external-link"}))
    assert check(draft, off, spam_score=0.99) == []
