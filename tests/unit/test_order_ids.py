"""Order-ID extraction against the readable case tables in tests/data/order_ids.

One table per shipped preset, at least 60 cases each, English and Chinese, with the
traps the issue names (phone, tracking and ticket numbers, dates, prices, quoted
replies, full-width digits). Every case must pass: a wrong order ID merges two
customers' conversations.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path

import pytest

from maild.threads import Preset, extract_order_ids, load_preset, preset_names
from tests.support.tables import table_rows

CASES = Path(__file__).resolve().parents[1] / "data" / "order_ids"
MIN_CASES = 60


@dataclass(frozen=True)
class Case:
    preset: str
    id: str
    why: str
    subject: str
    body: str
    order_ids: tuple[str, ...]
    sub_order_ids: tuple[str, ...] = ()
    from_quote: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    parents: dict[str, str] = field(default_factory=dict)


CASE_KEYS = frozenset(f.name for f in fields(Case)) - {"preset"}


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
                order_ids=tuple(row["order_ids"]),
                sub_order_ids=tuple(row.get("sub_order_ids", ())),
                from_quote=row.get("from_quote", False),
                headers=row.get("headers", {}),
                parents=row.get("parents", {}),
            )
        )
    return cases


ALL_CASES = [case for path in sorted(CASES.glob("*.toml")) for case in read_cases(path)]


@cache
def preset(name: str) -> Preset:
    return load_preset(name)


@pytest.mark.parametrize("case", ALL_CASES, ids=[f"{c.preset}-{c.id}" for c in ALL_CASES])
def test_case_table_order_ids(case: Case) -> None:
    refs = extract_order_ids(case.subject, case.body, case.headers, preset(case.preset))

    found = (refs.order_ids, refs.sub_order_ids, refs.from_quote)
    assert found == (case.order_ids, case.sub_order_ids, case.from_quote), case.why
    parents = {sub.id: sub.parent for sub in refs.sub_orders}
    assert {sub: parents.get(sub) or "" for sub in case.parents} == case.parents, case.why


@pytest.mark.parametrize("name", preset_names())
def test_every_shipped_preset_has_a_full_case_table(name: str) -> None:
    cases = [case for case in ALL_CASES if case.preset == name]
    ids = [case.id for case in cases]

    assert len(cases) >= MIN_CASES
    assert len(set(ids)) == len(ids), "case ids must be unique within a table"
    assert any(not case.body.isascii() for case in cases), "the table needs Chinese cases"
    assert any(case.from_quote for case in cases), "the table needs a quoted-only case"
