"""The acceptance table of #8: every draft in tests/data/outbound gets exactly its rules."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from maild.outbound.policy import Attachment, Draft, OutboundPolicy, check
from maild.threads.presets import load_preset

TABLES = sorted((Path(__file__).resolve().parents[1] / "data" / "outbound").glob("*.toml"))


@dataclass(frozen=True)
class Case:
    name: str
    draft: Draft
    expect: frozenset[str]
    why: str


KEYS = frozenset({"text", "html", "attachments", "expect", "why"})


def _case(name: str, row: dict[str, Any]) -> Case:
    assert set(row) <= KEYS, f"{name}: unknown keys {set(row) - KEYS}"  # a typo tests nothing
    files = tuple(Attachment(f["name"], f["type"], f["size"]) for f in row.get("attachments", []))
    draft = Draft(row["text"], row.get("html"), files)
    return Case(name, draft, frozenset(row["expect"]), row["why"])


CASES = [
    _case(f"{path.stem}-{index}", row)
    for path in TABLES
    for index, row in enumerate(tomllib.loads(path.read_text(encoding="utf-8"))["drafts"])
]


def amazon_policy() -> OutboundPolicy:
    """The table's mailbox: Amazon order IDs, links only to amazon.com."""
    patterns = tuple(p.regex for p in load_preset("amazon").patterns if not p.needs_keyword)
    return OutboundPolicy(allowed_domains=("amazon.com",), protected=patterns)


def test_the_table_holds_at_least_150_drafts_in_english_and_chinese() -> None:
    chinese = [c for c in CASES if any("\u4e00" <= ch <= "\u9fff" for ch in c.draft.text)]
    assert len(CASES) >= 150
    assert len(chinese) >= 40
    assert all(c.why for c in CASES)


def test_the_table_has_clean_drafts_and_every_rule() -> None:
    assert sum(not c.expect for c in CASES) >= 30
    assert set().union(*(c.expect for c in CASES)) == {
        "external-link", "marketing", "contact-info", "attachment",
    }  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_draft_violates_exactly_the_expected_rules(case: Case) -> None:
    found = check(case.draft, amazon_policy())
    assert {v.rule for v in found} == case.expect, (case.why, found)
