"""SLA policies: how long a conversation of each kind may wait, on whose clock.

A marketplace holds the seller to its own deadline on its own clock (Walmart's 48
hours of wall-clock time, Douyin's 24 hours of 09:00-21:00 business time); a team
may keep a tighter internal target on its own business calendar. A policy is
therefore one mandatory **platform** clock and an optional **internal** one, each
with an allowance per conversation kind. Kinds are the classifier's tags
(``urgent``, ``customer-care``, ...) plus ``escalated``; a conversation with
several gets the strictest allowance among them, and one with none of them the
``default`` allowance.

These are plain values: the TOML shape and its validation are in
:mod:`maild.sla.schema`, loading in :mod:`maild.sla.presets`.
"""

from __future__ import annotations

__all__ = ["DEFAULT_KIND", "ClockName", "ClockPolicy", "SlaPolicy"]

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Final, Literal

from maild.sla.business_time import WALL_CLOCK, BusinessCalendar

ClockName = Literal["platform", "internal"]
DEFAULT_KIND: Final = "default"


@dataclass(frozen=True, slots=True)
class ClockPolicy:
    """One clock: an allowance per kind (``default`` always among them) and its calendar."""

    allowances: Mapping[str, timedelta]
    calendar: BusinessCalendar = WALL_CLOCK

    def __post_init__(self) -> None:
        if DEFAULT_KIND not in self.allowances:
            raise ValueError(f"a clock needs a {DEFAULT_KIND!r} allowance")
        if any(allowance <= timedelta(0) for allowance in self.allowances.values()):
            raise ValueError("allowances must be positive")

    def allowance_for(self, kinds: Iterable[str]) -> tuple[str, timedelta]:
        """The kind whose allowance applies and that allowance: the strictest that matches.

        Kinds without an allowance of their own (``pre-sale``, a ticket category) do
        not count; if none has one, the ``default`` applies.
        """
        matching = sorted(
            (self.allowances[kind], kind)
            for kind in set(kinds)
            if kind in self.allowances and kind != DEFAULT_KIND
        )
        if not matching:
            return DEFAULT_KIND, self.allowances[DEFAULT_KIND]
        allowance, kind = matching[0]
        return kind, allowance


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """A named policy: the platform's clock, the team's optional one, and the due-soon share.

    ``due_soon_ratio`` is the share of the allowance left at which a conversation
    turns from ``ok`` to ``due-soon`` (0.25: the last quarter).
    """

    name: str
    platform: ClockPolicy
    internal: ClockPolicy | None = None
    due_soon_ratio: float = 0.25
    description: str = ""

    def __post_init__(self) -> None:
        if not 0 < self.due_soon_ratio < 1:
            raise ValueError(f"due_soon_ratio must be between 0 and 1, got {self.due_soon_ratio}")

    @property
    def clocks(self) -> tuple[tuple[ClockName, ClockPolicy], ...]:
        """The clocks that run, platform first."""
        if self.internal is None:
            return (("platform", self.platform),)
        return (("platform", self.platform), ("internal", self.internal))

    @property
    def kinds(self) -> frozenset[str]:
        """Every kind some clock of this policy has an allowance for."""
        return frozenset(kind for _, clock in self.clocks for kind in clock.allowances)
