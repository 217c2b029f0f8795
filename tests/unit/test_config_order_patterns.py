"""A mailbox's own order_patterns in maild.toml: validated, located, and put to use."""

from __future__ import annotations

from pathlib import Path

import pytest

from maild.config import load_config
from maild.config.settings import OrderPatternSettings
from maild.errors import ConfigError, ConfigProblem
from maild.threads import extract_order_ids, load_preset

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "maild.example.toml"
EXAMPLE_ENV = {"MAILD_WALMART_US_PASSWORD": "example-1", "MAILD_AMAZON_EU_PASSWORD": "example-2"}
ENV = {"MAILD_SHOP_PASSWORD": "pw"}
FIRST_ENTRY_LINE = 5


def config_with(*entries: str) -> str:
    """A valid maild.toml whose order_patterns holds ``entries``, one per line from line 5."""
    rows = "".join(f"    {entry},\n" for entry in entries)
    return (
        '[mailboxes.shop]\naddress = "support@shop.example"\npreset = "walmart"\n'
        f"order_patterns = [\n{rows}]\n\n"
        '[mailboxes.shop.imap]\nhost = "imap.example.com"\n'
        'username = "support@shop.example"\npassword_env = "MAILD_SHOP_PASSWORD"\n'
    )


def load_patterns(tmp_path: Path, *entries: str) -> tuple[OrderPatternSettings, ...]:
    path = tmp_path / "maild.toml"
    path.write_text(config_with(*entries), encoding="utf-8")
    return load_config(path, ENV).mailboxes["shop"].order_patterns


def problems(tmp_path: Path, *entries: str) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as caught:
        load_patterns(tmp_path, *entries)
    return caught.value.problems


def test_a_string_is_a_pattern_with_defaults(tmp_path: Path) -> None:
    [pattern] = load_patterns(tmp_path, "'WM-[0-9]{8}'")

    assert pattern == OrderPatternSettings(regex="WM-[0-9]{8}")
    assert (pattern.name, pattern.kind, pattern.where, pattern.headers) == (
        "custom",
        "order",
        ("subject", "body"),
        (),
    )


def test_a_table_sets_every_key_and_header_names_are_lower_cased(tmp_path: Path) -> None:
    [pattern] = load_patterns(
        tmp_path,
        "{ name = 'shop-ref', regex = 'R[0-9]{6}', kind = 'either', where = ['body'],"
        " headers = ['X-Shop-Ref'], needs_keyword = true, strip = '-', upper = false }",
    )

    assert pattern == OrderPatternSettings(
        name="shop-ref",
        regex="R[0-9]{6}",
        kind="either",
        where=("body",),
        headers=("x-shop-ref",),
        needs_keyword=True,
        strip="-",
        upper=False,
    )


def test_example_config_patterns_extend_the_mailbox_preset() -> None:
    mailbox = load_config(EXAMPLE, EXAMPLE_ENV).mailboxes["walmart-us"]
    preset = load_preset(mailbox.preset, mailbox.order_patterns)

    refs = extract_order_ids("Refund for WM-12345678", "PO# 1847362950012", {}, preset)

    assert refs.order_ids == ("WM-12345678", "1847362950012")


MISTAKES = [
    ("'WM-[0-9'", "[0].regex", "is not a valid regular expression: unterminated character set"),
    ("'[0-9]+'", "[0].regex", "has an unbounded repeat '+'"),
    ("'ID.*'", "[0].regex", "has an unbounded repeat '*'"),
    ("'(?:[0-9]{4}-)+[0-9]{4}'", "[0].regex", "has an unbounded repeat '+'"),
    ("'[0-9]{13,}'", "[0].regex", "has an unbounded repeat '{13,}'"),
    ("'[0-9]{,}'", "[0].regex", "has an unbounded repeat '{,}'"),
    ("'(?P<order>[0-9]{5})'", "[0].regex", "has a named group 'order'"),
    ("'A?'", "[0].regex", "matches the empty string"),
    ("'(?i)[0-9]{5}'", "[0].regex", "is not a valid regular expression: global flags"),
    ("'" + "[0-9]" * 61 + "'", "[0].regex", "is 305 characters long; at most 300 are allowed"),
    ("{ regex = '[0-9]{5}', kid = 'order' }", "[0].kid", "unknown key 'kid'"),
    ("{ name = 'x' }", "[0].regex", "missing required key 'regex'"),
    ("5", "[0]", "expected a table, got integer 5"),
    (
        "{ regex = '[0-9]{5}', kind = 'suborder' }",
        "[0].kind",
        "expected one of 'order', 'sub_order', 'either', got string 'suborder'",
    ),
    (
        "{ regex = '(?P<parent>[0-9]{5})-[0-9]' }",
        "[0]",
        "a 'parent' group names a sub-order's parent order",
    ),
    ("{ regex = '[0-9]{5}', where = [] }", "[0]", "the pattern looks nowhere"),
    ("{ regex = '[0-9]{5}', where = ['footer'] }", "[0].where[0]", "expected one of"),
    ("{ regex = '[0-9]{5}', headers = ['X-Order-Id:'] }", "[0].headers[0]", "not a header"),
    ("{ regex = '[0-9]{5}', name = 'Shop Ref' }", "[0].name", "pattern name 'Shop Ref'"),
]


@pytest.mark.parametrize(("entry", "where", "message"), MISTAKES, ids=[m[2] for m in MISTAKES])
def test_pattern_mistake_is_a_config_error_with_line_and_path(
    tmp_path: Path, entry: str, where: str, message: str
) -> None:
    [problem] = problems(tmp_path, entry)

    assert problem.path == f"mailboxes.shop.order_patterns{where}"
    assert problem.line == FIRST_ENTRY_LINE
    assert message in problem.message


def test_every_bad_pattern_is_reported_at_once(tmp_path: Path) -> None:
    found = problems(tmp_path, "'[0-9]{5}'", "'[0-9]+'", "'[0-9]{5}'", "'(x'")

    assert [(p.path, p.line) for p in found] == [
        ("mailboxes.shop.order_patterns[1].regex", FIRST_ENTRY_LINE + 1),
        ("mailboxes.shop.order_patterns[3].regex", FIRST_ENTRY_LINE + 3),
    ]


@pytest.mark.parametrize(
    "regex",
    [
        r"[0-9]{4}+",  # possessive, not unbounded
        r"[+*]{1,2}[0-9]{4}",  # + and * inside a class are literals
        r"\+[0-9]{10}",  # an escaped plus
        r"[]+][0-9]{4}",  # a ] first in a class is a literal, the + after it too
        r"X{2}[0-9]{4}",
    ],
)
def test_bounded_patterns_are_accepted(tmp_path: Path, regex: str) -> None:
    [pattern] = load_patterns(tmp_path, f"'{regex}'")

    assert pattern.regex == regex
