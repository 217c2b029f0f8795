"""Reply templates: parsing with file:line problems, filling all or nothing, the shipped set."""

from pathlib import Path

import pytest

from maild.config import load_config
from maild.config.settings import MailboxSettings
from maild.errors import ConfigError
from maild.outbound.model import Draft
from maild.outbound.policy import check, policy_for
from maild.outbound.template_files import SHIPPED_TEMPLATES, load_template
from maild.outbound.templates import (
    MissingVariables,
    Template,
    TemplateProblem,
    fill,
    parse_template,
)
from maild.threads.presets import load_preset

GOOD = """\
+++
description = "shipped"
subject = "Order {order_id}"
+++
Hello {customer_name}, order {order_id} ({{not a placeholder}}) is on its way.
"""


def parsed(text: str) -> Template:
    template = parse_template("shipped", text)
    assert isinstance(template, Template), template
    return template


def test_a_template_names_its_variables_and_fills_every_one() -> None:
    template = parsed(GOOD)
    filled = fill(template, {"order_id": "A-1", "customer_name": "Alice", "unused": "x"})
    assert template.variables == ("customer_name", "order_id")
    assert filled.subject == "Order A-1"
    assert filled.body == "Hello Alice, order A-1 ({not a placeholder}) is on its way.\n"


def test_a_missing_or_empty_variable_is_named_and_nothing_is_filled() -> None:
    with pytest.raises(MissingVariables, match=r"needs customer_name, order_id") as caught:
        fill(parsed(GOOD), {"customer_name": "  "})
    assert caught.value.names == ("customer_name", "order_id")
    assert "--var customer_name=..." in str(caught.value)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("Hello {customer_name}\n", 1, "starts with a +++ line"),
        ("+++\nsubject = 1\n", 1, "no closing +++"),
        ('+++\ndescription = "x"\nsubjet = "y"\n+++\nHi\n', 3, "unknown key 'subjet'"),
        ('+++\nsubject = "x\n+++\nHi\n', 3, "front matter: Unterminated string"),
        ("+++\nsubject = x\n+++\nHi\n", 2, "front matter: Invalid value"),
        ("+++\n+++\nHello {customer.name}\n", 3, "'{customer.name}' is not a name"),
        ("+++\n+++\nfine\n\nthen a } alone\n", 5, "unmatched '}'"),
        ("+++\n+++\n\n", 3, "no text"),
        ('+++\ndescription = "x"\nticket = "close"\n+++\nHi\n', 3, "'close' is not one of"),
    ],
)
def test_a_broken_template_is_reported_on_its_line(text: str, line: int, words: str) -> None:
    problems = parse_template("broken", text)
    assert isinstance(problems, list)
    assert problems[0].line == line and words in problems[0].message, problems
    assert all(isinstance(p, TemplateProblem) for p in problems)


def test_check_config_lists_a_broken_template_with_its_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "ok.md").write_text(GOOD)
    (tmp_path / "templates" / "bad.md").write_text("+++\n+++\nHi {name.attr}\n")
    config = tmp_path / "maild.toml"
    config.write_text('[outbox]\ntemplates_dir = "templates"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(config, {})
    assert [str(p) for p in caught.value.problems] == [
        f"{tmp_path / 'templates' / 'bad.md'}:3: '{{name.attr}}' is not a name: a"
        " placeholder is {name} (letters, digits, _); write {{ or }} for a literal brace"
    ]


def test_a_templates_dir_that_does_not_exist_is_a_config_problem_on_its_line(
    tmp_path: Path,
) -> None:
    config = tmp_path / "maild.toml"
    config.write_text('[outbox]\nmax_attempts = 3\ntemplates_dir = "nowhere"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(config, {})
    [problem] = caught.value.problems
    assert (problem.line, problem.path) == (3, "outbox.templates_dir")
    assert "is not a directory" in problem.message


def test_an_unknown_template_name_lists_the_ones_there_are() -> None:
    with pytest.raises(ConfigError, match=r"no template 'thanks'.*follow-up-en"):
        load_template(SHIPPED_TEMPLATES, "thanks")


SHIPPED = sorted(p.stem for p in SHIPPED_TEMPLATES.glob("*.md"))
VALUES = {
    "order_id": "112-1234567-1234567",
    "customer_name": "Alice Buyer",
    "shop_name": "Lamp Shop",
    "sub_order_id": "112-1234567-1234567-2",
    "problem": "The parcel is held at the depot.",
    "solution": "We asked the carrier to deliver it tomorrow.",
    "question": "Which item of the order is damaged, and how?",
}


def test_the_shipped_set_covers_domain_md_in_english_and_chinese() -> None:
    kinds = (
        "problem-solution",
        "exchange-arranged",
        "follow-up",
        "ticket-clarify",
        "after-sales-package",
        "logistics-check-package",
        "review-invitation",
    )
    assert sorted(f"{kind}-{lang}" for kind in kinds for lang in ("en", "zh")) == SHIPPED
    # Templates for one package of a multi-package order name it.
    for kind in ("after-sales-package", "logistics-check-package", "review-invitation"):
        for lang in ("en", "zh"):
            assert "sub_order_id" in load_template(SHIPPED_TEMPLATES, f"{kind}-{lang}").variables


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_template_filled_passes_the_strictest_policy(name: str) -> None:
    template = load_template(SHIPPED_TEMPLATES, name)
    filled = fill(template, VALUES)
    mailbox = MailboxSettings.model_validate(
        {"address": "s@shop.example", "preset": "amazon", "imap": {"host": "h", "username": "u"}},
        context={"secrets_resolved": True},
    )
    policy = policy_for(mailbox, load_preset("amazon", ()))
    assert check(Draft(filled.body, subject=filled.subject), policy) == []
    assert "{" not in filled.body and template.description
