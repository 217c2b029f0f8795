"""maild's database: tables, schema upgrades and the queries the rest of maild needs."""

from maild.store.database import MailboxStats, Stats, Store

__all__ = ["MailboxStats", "Stats", "Store"]
