"""Rule tags against the readable case tables in tests/data/tags, plus the [tags] format.

One table per shipped preset, English and Chinese, with the traps the issue names
("no urgency", "not a chargeback", a product called "Fire TV", 工商银行). Order IDs
come from the preset's own extraction, as in the pipeline. Every case must pass.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maild.classify import tags
from maild.classify.tags import tags_for
from maild.errors import ConfigError
from maild.threads import Preset, extract_order_ids, load_preset, load_preset_file, preset_names
from tests.support.tables import table_rows

CASES = Path(__file__).resolve().parents[1] / "data" / "tags"
MIN_CASES = 80


@dataclass(frozen=True)
class Case:
    preset: str
    id: str
    why: str
    subject: str
    body: str
    tags: frozenset[str]
    sender: str | None = None
    sender_name: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


CASE_KEYS = frozenset({f.name for f in fields(Case)} - {"preset", "sender", "sender_name"}) | {
    "from",
    "from_name",
}


def read_cases(path: Path) -> list[Case]:
    cases = []
    for row in table_rows(path, CASE_KEYS):
        cases.append(
            Case(
                preset=path.stem,
                id=row["id"],
                why=row["why"],
                subject=row["subject"],
                body=row["body"],
                tags=frozenset(row["tags"]),
                sender=row.get("from"),
                sender_name=row.get("from_name"),
                headers=row.get("headers", {}),
            )
        )
    return cases


ALL_CASES = [case for path in sorted(CASES.glob("*.toml")) for case in read_cases(path)]


@cache
def preset(name: str) -> Preset:
    return load_preset(name)


def tags_of(case: Case, rules: Preset) -> frozenset[str]:
    refs = extract_order_ids(case.subject, case.body, case.headers, rules)
    return tags_for(
        case.subject,
        case.body,
        case.headers,
        case.sender,
        refs,
        rules,
        from_name=case.sender_name,
    )


@pytest.mark.parametrize("case", ALL_CASES, ids=[f"{c.preset}-{c.id}" for c in ALL_CASES])
def test_case_table_tags(case: Case) -> None:
    assert tags_of(case, preset(case.preset)) == case.tags, case.why


def test_tables_cover_every_preset_both_languages_and_every_tag() -> None:
    assert len(ALL_CASES) >= MIN_CASES
    assert {case.preset for case in ALL_CASES} == set(preset_names())
    chinese = [case for case in ALL_CASES if any("\u4e00" <= ch <= "\u9fff" for ch in case.body)]
    assert len(chinese) >= 30
    seen = set().union(*(case.tags for case in ALL_CASES))
    assert {"pre-sale", "after-sale", "customer-care", "urgent", "escalated"} <= seen
    categories = preset("douyin").tags.tickets.categories
    assert {f"ticket:{category.name}" for category in categories} <= seen


def test_case_ids_are_unique_per_table() -> None:
    keys = [(case.preset, case.id) for case in ALL_CASES]
    assert len(keys) == len(set(keys))


HEADER = """\
description = "A test marketplace"

[[patterns]]
name = "order"
regex = 'T[0-9]{6}'
"""


def write(directory: Path, text: str) -> Path:
    path = directory / "shop.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_a_preset_without_tags_still_gets_the_built_in_urgent_words(tmp_path: Path) -> None:
    rules = load_preset_file(write(tmp_path, HEADER))
    refs = extract_order_ids("", "", {}, rules)

    assert tags_for("", "The lamp caught fire.", {}, None, refs, rules) == {"pre-sale", "urgent"}
    assert tags_for("", "Does it come in red?", {}, None, refs, rules) == {"pre-sale"}


def test_a_preset_adds_its_own_urgent_words_and_exceptions(tmp_path: Path) -> None:
    text = HEADER + '\n[tags]\nurgent_terms = ["recall kit"]\nurgent_exceptions = ["lawyer mug"]\n'
    rules = load_preset_file(write(tmp_path, text))
    refs = extract_order_ids("", "", {}, rules)

    assert "urgent" in tags_for("", "Where is the recall kit?", {}, None, refs, rules)
    assert "urgent" not in tags_for("", "Is the lawyer mug dishwasher safe", {}, None, refs, rules)
    assert "urgent" in tags_for("", "My lawyer will call you", {}, None, refs, rules)


def test_one_presets_urgent_word_does_not_leak_into_another() -> None:
    douyin, amazon = preset("douyin"), preset("amazon")
    refs = extract_order_ids("", "", {}, amazon)

    assert "urgent" in tags_for("工单 (紧急)", "", {}, None, refs, douyin)
    assert "urgent" not in tags_for("工单 (紧急)", "", {}, None, refs, amazon)


CARE = """
[tags.customer_care]
domains = ["care.shop.example"]
headers = ["X-Care-Case", "X-Relay-Type: agent"]
"""


@pytest.mark.parametrize(
    ("sender", "headers", "care"),
    [
        ("agent@care.shop.example", {}, True),
        ("agent@eu.care.shop.example", {}, True),
        ("agent@notcare.shop.example", {}, False),
        (None, {"x-care-case": "12"}, True),
        (None, {"X-Relay-Type": "Agent message"}, True),
        (None, {"X-Relay-Type": "buyer"}, False),
        (None, {}, False),
    ],
)
def test_customer_care_by_domain_or_header(
    tmp_path: Path, sender: str | None, headers: dict[str, str], care: bool
) -> None:
    rules = load_preset_file(write(tmp_path, HEADER + CARE))
    refs = extract_order_ids("", "", headers, rules)

    assert ("customer-care" in tags_for("Hello", "Hi", headers, sender, refs, rules)) is care


TAG_MISTAKES = [
    ("[tags]\nurgnt_terms = ['x']\n", "tags.urgnt_terms", "allowed here: urgent_terms"),
    ("[tags]\nurgent_terms = ['  ']\n", "tags.urgent_terms[0]", "must not be blank"),
    (
        "[tags]\nurgent_terms = ['Recall']\nurgent_exceptions = ['recall']\n",
        "tags",
        "'recall' is listed as urgent and as an exception",
    ),
    ("[tags.customer_care]\nsenders = ['Care <c@x.example>']\n", "senders[0]", "not an e-mail"),
    ("[tags.customer_care]\ndomains = ['care shop']\n", "domains[0]", "not a domain name"),
    ("[tags.customer_care]\nheaders = ['X Bad: y']\n", "headers[0]", "expected a header name"),
    (
        "[[tags.tickets.categories]]\nname = 'price'\nkeywords = ['价格']\n",
        "tags.tickets",
        "need at least one marker",
    ),
    (
        "[tags.tickets]\nmarkers = ['工单']\n[[tags.tickets.categories]]\nname = 'price'\n"
        "keywords = []\n",
        "tags.tickets.categories[0].keywords",
        "must not be empty",
    ),
    (
        "[tags.tickets]\nmarkers = ['工单']\n[[tags.tickets.categories]]\nname = 'Price'\n"
        "keywords = ['价格']\n",
        "categories[0].name",
        "lower-case letters",
    ),
    (
        "[tags.tickets]\nmarkers = ['工单']\n[[tags.tickets.categories]]\nname = 'price'\n"
        "keywords = ['价格']\n[[tags.tickets.categories]]\nname = 'price'\nkeywords = ['降价']\n",
        "tags.tickets",
        "'price' is defined twice",
    ),
    (
        "[tags.handoff]\ndomains = ['xiaohongshu.com']\n",
        "tags.handoff",
        "a sender alone is no notice",
    ),
    (
        "[tags.tickets.closed]\nsubjects = ['']\n",
        "tags.tickets.closed.subjects[0]",
        "must not be empty",
    ),
]


@pytest.mark.parametrize(("table", "path", "words"), TAG_MISTAKES)
def test_a_bad_tags_table_is_refused_with_its_place(
    tmp_path: Path, table: str, path: str, words: str
) -> None:
    preset_file = write(tmp_path, HEADER + "\n" + table)

    with pytest.raises(ConfigError) as caught:
        load_preset_file(preset_file)

    [problem] = caught.value.problems
    assert path in problem.path
    assert words in problem.message
    assert problem.file == str(preset_file)
    assert problem.line is not None


@settings(max_examples=300)
@given(st.text(), st.frozensets(st.sampled_from(["a", "fire", "9", "x1", "é", "fires"])))
def test_latin_words_of_any_text_are_its_runs_of_ascii_letters_and_digits(
    text: str, vocabulary: frozenset[str]
) -> None:
    runs = set(re.findall("[0-9a-z]+", text))
    assert tags._tokens(text, vocabulary) == runs & vocabulary
    assert tags._tokens(text, frozenset(runs)) == runs


@pytest.mark.parametrize("name", sorted(preset_names()))
def test_every_term_list_of_a_preset_looks_its_words_up_in_one_shared_vocabulary(
    name: str,
) -> None:
    rules = tags._compiled(load_preset(name).tags)
    notices = (rules.handoff, rules.urgent_ticket, rules.closed)
    lists = [
        rules.urgent,
        rules.escalated,
        rules.exceptions,
        rules.care_subjects,
        rules.ticket_markers,
        *(terms for _, terms in rules.categories),
        *(notice.subjects for notice in notices),
        *(notice.text for notice in notices),
    ]
    vocabulary = rules.urgent.vocabulary
    for terms in lists:
        assert terms.vocabulary is vocabulary  # one split of a text serves every list
        asked = {part + plural for parts in terms.words for part in parts for plural in ("", "s")}
        assert terms.latin_words | asked <= vocabulary
