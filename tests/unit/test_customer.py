"""Customer identity: a name to show and an address to reply to, relay aliases included."""

from __future__ import annotations

from functools import cache

import pytest

from maild.threads import Customer, CustomerHints, identify_customer, load_preset


@cache
def hints(preset: str) -> CustomerHints:
    return load_preset(preset).customer


AMAZON_RELAY = "3xk9qz7m2vlp8rw@Marketplace.Amazon.com"


def test_amazon_display_name_without_the_marketplace_suffix() -> None:
    customer = identify_customer(
        "Emma Smith - Amazon Marketplace", AMAZON_RELAY, None, "Hello,\n", hints("amazon")
    )

    assert customer == Customer("Emma Smith", AMAZON_RELAY.lower(), relay=True)


def test_amazon_generic_display_name_falls_back_to_the_sign_off() -> None:
    text = "Hello,\nWhere is my bottle?\n\nThank you,\nEmma\n------------- End message ---"

    customer = identify_customer("Amazon Marketplace", AMAZON_RELAY, None, text, hints("amazon"))

    assert customer.name == "Emma"


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Any news?\nThanks, Liam", "Liam"),
        ("Any news?\nBest regards,\nLiam O'Brien", "Liam O'Brien"),
        ("Any news?\nCheers -- Jean-Luc", "Jean-Luc"),
        ("Any news?\n谢谢！\n陈喆", "陈喆"),
        ("Any news?\nThanks for your help", None),
        ("Any news?\nThanks,\n555-0199", None),
        ("Any news?\nThanks,\nhttps://example.com", None),
        ("Any news?\nRegards,\nAmazon Customer", None),
        ("No sign-off at all", None),
        ("Any news?\nThanks,", None),
    ],
)
def test_sign_off_name_must_look_like_a_name(text: str, name: str | None) -> None:
    customer = identify_customer(None, AMAZON_RELAY, None, text, hints("amazon"))

    assert customer.name == name


def test_a_sign_off_in_the_quoted_reply_is_someone_else() -> None:
    text = "Any news?\n\n> Thanks,\n> Bob from the shop"

    assert identify_customer(None, AMAZON_RELAY, None, text, hints("amazon")).name is None


def test_walmart_customer_care_names_the_customer_in_a_label() -> None:
    text = "Hello Seller,\nCustomer Name: Jane Doe\nThe lamp arrived without its adapter."

    customer = identify_customer(
        "Walmart Customer Care", "CustomerCare@relay.walmart.com", None, text, hints("walmart")
    )

    assert customer == Customer("Jane Doe", "customercare@relay.walmart.com", relay=True)


def test_relay_reply_to_wins_over_a_no_reply_sender() -> None:
    customer = identify_customer(
        "Walmart",
        "noreply@walmart.com",
        "a1b2c3@relay.walmart.com",
        "Question about my lamp.\nThanks,\nJohn",
        hints("walmart"),
    )

    assert customer == Customer("John", "a1b2c3@relay.walmart.com", relay=True)


def test_douyin_notice_names_the_buyer_by_nickname() -> None:
    text = "工单编号 GD20240323000123\n买家昵称：小鹿\n订单号 4921837465102938475"

    customer = identify_customer(
        "抖店客服", "notice@service.douyin.com", None, text, hints("douyin")
    )

    assert customer == Customer("小鹿", "notice@service.douyin.com", relay=True)


def test_own_address_customer_is_named_by_the_display_name() -> None:
    customer = identify_customer(
        "Liam Garcia",
        "Liam.Garcia@Buyers.example",
        "liam.replies@buyers.example",
        "Hi",
        hints("amazon"),
    )

    assert customer == Customer("Liam Garcia", "liam.replies@buyers.example", relay=False)


@pytest.mark.parametrize("display", [None, "", "liam@buyers.example", "Customer", "12345", '""'])
def test_a_display_name_that_names_nobody_gives_no_name(display: str | None) -> None:
    customer = identify_customer(display, "liam@buyers.example", None, "", hints("generic"))

    assert customer == Customer(None, "liam@buyers.example", relay=False)


def test_chinese_display_name_from_full_width_quotes() -> None:
    customer = identify_customer("＂陈喆＂", "chenzhe@buyer.example.cn", None, "", hints("amazon"))

    assert customer.name == "陈喆"


def test_a_look_alike_domain_is_not_a_relay() -> None:
    customer = identify_customer("Emma", "x@evilmarketplace.amazon.com", None, "", hints("amazon"))

    assert customer.relay is False


def test_no_address_at_all() -> None:
    assert identify_customer("Emma", None, " ", "", hints("amazon")) == Customer(
        "Emma", None, relay=False
    )


GREETING_HINTS = CustomerHints(
    relay_domains=("relay.example",), name_from=("greeting",), generic_names=("Seller", "there")
)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Hi Emma,\nYour refund is on its way.", "Emma"),
        ("Dear Ms Smith,\nThank you.", "Ms Smith"),
        ("Good morning Jean-Luc!\n", "Jean-Luc"),
        ("陈喆您好，\n已为您退款。", "陈喆"),
        ("您好，陈喆：\n已为您退款。", "陈喆"),
        ("Hello there,\nThanks.", None),
        ("Hello Seller,\nThe customer reports...", None),
        ("\n\nHi Emma\n", "Emma"),
        ("Thanks for waiting, Emma.", None),
    ],
)
def test_a_seller_reply_greeting_names_the_customer(text: str, name: str | None) -> None:
    customer = identify_customer(None, "abc@relay.example", None, text, GREETING_HINTS)

    assert customer.name == name
