"""maild's database: tables, schema upgrades and the queries the rest of maild needs."""

from maild.store.database import MailboxStats, Stats, Store
from maild.store.quarantine import QuarantinedMessage

__all__ = ["MailboxStats", "QuarantinedMessage", "Stats", "Store"]
