"""The flagging rules of DOMAIN.md, one row per rule and reason (maild.classify.flagging)."""

from dataclasses import replace

import pytest

from maild.classify.flagging import (
    REASONS,
    MessageFacts,
    Reason,
    flag_refusal,
    unflag_refusal,
)
from maild.classify.message import HAM, LABELS

# An unanswered pre-sale question a customer wrote: the one kind of message a seller may flag.
PRE_SALE = MessageFacts(
    direction="in",
    machine_kind=None,
    threaded=True,
    orders=(),
    answered=False,
    labels={"pre-sale": "rule"},
)
ORDER = "6912345678901234567"

FLAG_CASES = [
    pytest.param(PRE_SALE, "spam", None, id="unanswered-pre-sale-spam"),
    pytest.param(PRE_SALE, "fraud", None, id="unanswered-pre-sale-fraud"),
    pytest.param(PRE_SALE, "inappropriate", None, id="unanswered-pre-sale-inappropriate"),
    pytest.param(
        replace(PRE_SALE, labels={"pre-sale": "rule", "fraud": "model"}),
        "fraud",
        None,
        id="model-label-confirmed-by-a-person",
    ),
    pytest.param(
        replace(PRE_SALE, labels={"spam": "flag"}), "fraud", None, id="flag-reason-changed"
    ),
    pytest.param(replace(PRE_SALE, threaded=False), "spam", "not-threaded", id="not-threaded"),
    pytest.param(replace(PRE_SALE, direction="out"), "spam", "outbound", id="seller-reply"),
    pytest.param(
        replace(PRE_SALE, direction="out", orders=(ORDER,)),
        "fraud",
        "outbound",
        id="seller-reply-about-an-order",
    ),
    pytest.param(
        replace(PRE_SALE, machine_kind="auto-reply"), "spam", "machine-mail", id="auto-reply"
    ),
    pytest.param(replace(PRE_SALE, machine_kind="bounce"), "fraud", "machine-mail", id="bounce"),
    pytest.param(replace(PRE_SALE, orders=(ORDER,)), "spam", "order", id="order-spam"),
    pytest.param(replace(PRE_SALE, orders=(ORDER,)), "fraud", "order", id="order-fraud"),
    pytest.param(
        replace(PRE_SALE, orders=(ORDER,)), "inappropriate", "order", id="order-inappropriate"
    ),
    pytest.param(
        replace(PRE_SALE, labels={"customer-care": "rule", "pre-sale": "rule"}),
        "spam",
        "customer-care",
        id="customer-care",
    ),
    pytest.param(replace(PRE_SALE, answered=True), "spam", "answered", id="answered-spam"),
    pytest.param(
        replace(PRE_SALE, answered=True), "inappropriate", "answered", id="answered-inappropriate"
    ),
    pytest.param(
        replace(PRE_SALE, answered=True, orders=(ORDER,)),
        "spam",
        "order",
        id="answered-order-names-the-order-rule",
    ),
    pytest.param(
        replace(PRE_SALE, labels={"spam": "flag"}), "spam", "already-flagged", id="same-flag-twice"
    ),
]


@pytest.mark.parametrize(("facts", "reason", "rule"), FLAG_CASES)
def test_flag_is_allowed_only_on_an_unanswered_pre_sale_customer_message(
    facts: MessageFacts, reason: Reason, rule: str | None
) -> None:
    refusal = flag_refusal(facts, reason)

    assert (None if refusal is None else refusal.rule) == rule


def test_order_refusal_quotes_the_spam_rule_and_names_the_order() -> None:
    refusal = flag_refusal(replace(PRE_SALE, orders=(ORDER,)), "spam")

    assert refusal is not None
    assert "tied to an order must not be flagged as spam" in refusal.explanation
    assert ORDER in refusal.explanation
    assert str(refusal).startswith("refused (order): ")


def test_order_refusal_for_fraud_says_only_pre_sale_messages_may_be_flagged() -> None:
    refusal = flag_refusal(replace(PRE_SALE, orders=(ORDER,)), "fraud")

    assert refusal is not None and "only pre-sale messages" in refusal.explanation


UNFLAG_CASES = [
    pytest.param({"pre-sale": "rule", "spam": "flag"}, None, id="flagged"),
    pytest.param({"pre-sale": "rule", "fraud": "model"}, None, id="labelled-by-the-model"),
    pytest.param({"pre-sale": "rule"}, "not-flagged", id="never-flagged"),
    pytest.param({}, "not-flagged", id="no-labels"),
]


@pytest.mark.parametrize(("labels", "rule"), UNFLAG_CASES)
def test_unflag_needs_a_spam_fraud_or_inappropriate_label_from_anyone(
    labels: dict[str, str], rule: str | None
) -> None:
    refusal = unflag_refusal(replace(PRE_SALE, labels=labels))

    assert (None if refusal is None else refusal.rule) == rule


def test_unflag_waits_until_the_message_is_in_a_conversation() -> None:
    facts = replace(PRE_SALE, threaded=False, labels={"fraud": "model"})

    refusal = unflag_refusal(facts)

    assert refusal is not None and refusal.rule == "not-threaded"


def test_every_reason_is_one_of_the_classifiers_non_ham_labels() -> None:
    assert set(REASONS) == set(LABELS) - {HAM}
