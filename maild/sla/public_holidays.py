"""Public holidays and make-up working days of a country, from the ``holidays`` library.

A support team's calendar follows its country's days off, and in China also the
weekend days worked in exchange for a longer holiday (调休). Those dates are set by
governments every year, so maild takes them from a maintained library rather than
from a table of its own that would go stale; the operator's own ``holidays`` and
``extra_working_days`` still override any date the library has wrong or not yet.

The library is imported on first use, so that calendars without public holidays
(and the CLI) do not pay for it, and its answer for one year is kept, so that a
deadline computed every tick does not rebuild it.
"""

from __future__ import annotations

__all__ = ["PublicHolidays", "check_region"]

from dataclasses import dataclass
from datetime import date
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class PublicHolidays:
    """A country (ISO 3166-1 alpha-2) and optionally one of its subdivisions ("US", "NY")."""

    country: str
    subdivision: str | None = None

    @classmethod
    def parse(cls, region: str) -> PublicHolidays:
        """Read ``"CN"`` or ``"US-NY"`` (ISO 3166-2), raising ValueError with the choices."""
        country, _, subdivision = region.partition("-")
        check_region(country, subdivision or None)
        return cls(country, subdivision or None)

    def days_off(self, year: int) -> frozenset[date]:
        """The public holidays of ``year``, including days off in lieu."""
        return _year(self.country, self.subdivision, year)[0]

    def working_days(self, year: int) -> frozenset[date]:
        """The weekend days of ``year`` that are worked instead (China's make-up days)."""
        return _year(self.country, self.subdivision, year)[1]


def check_region(country: str, subdivision: str | None) -> None:
    """Raise ValueError unless the library knows the country (and its subdivision)."""
    import holidays

    supported = holidays.list_supported_countries()
    if country not in supported:
        raise ValueError(
            f"{country!r} is not a country the holidays library knows (expected an ISO 3166"
            " code such as 'CN' or 'US', optionally with a subdivision: 'US-NY')"
        )
    if subdivision is not None and subdivision not in supported[country]:
        known = ", ".join(supported[country][:12]) + (
            ", ..." if len(supported[country]) > 12 else ""
        )
        raise ValueError(f"{subdivision!r} is not a subdivision of {country} (known: {known})")


@lru_cache(maxsize=128)
def _year(
    country: str, subdivision: str | None, year: int
) -> tuple[frozenset[date], frozenset[date]]:
    import holidays

    days = holidays.country_holidays(country, subdiv=subdivision, years=year)
    return frozenset(days), frozenset(d for d in days.weekend_workdays if d.year == year)
