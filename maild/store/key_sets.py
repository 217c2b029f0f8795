"""Conditions naming a set of integer keys: a batch's messages, the conversations it touched.

``column IN (...)`` with a list is rendered anew for each execution, a parameter per
key: some 0.25 ms for a batch's 250 keys, for each of the half dozen statements a
batch runs on them. A batch's keys are most often consecutive (messages land, and
conversations are inserted, in runs), and then two parameters say the same.
"""

__all__ = ["among"]

from collections.abc import Sequence

from sqlalchemy import ColumnElement


def among(column: ColumnElement[int], keys: Sequence[int]) -> ColumnElement[bool]:
    """``column IN keys``; as ``BETWEEN`` the least and the greatest when ``keys`` hold
    every integer between them. ``keys`` must not be empty."""
    low, high = min(keys), max(keys)
    if high - low + 1 == len(set(keys)):
        return column.between(low, high)
    return column.in_(keys)
