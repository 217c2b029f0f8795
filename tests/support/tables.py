"""Reading the readable test tables in tests/data: one TOML file of ``[[case]]`` rows each.

A misspelt key in a hand-written case would silently test nothing, so every row is
checked against the keys its test knows.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection
from pathlib import Path
from typing import Any

__all__ = ["table_rows"]


def table_rows(path: Path, known: Collection[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = tomllib.loads(path.read_text(encoding="utf-8"))["case"]
    for row in rows:
        unknown = set(row) - set(known)
        assert not unknown, f"{path.name}: case {row.get('id')}: unknown keys {unknown}"
    return rows
