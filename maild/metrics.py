"""maild's Prometheus metrics, on a registry the caller owns.

Named methods instead of bare counters keep label values to config keys and
enums: a mailbox name, a folder from the config, an outcome. Never an order ID,
an address or a subject (CONVENTIONS 3); tests assert it.
"""

__all__ = ["Metrics"]

from prometheus_client import CollectorRegistry, Counter


class Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._landed = Counter(
            "maild_messages_landed_total",
            "Messages stored for the first time, per mailbox.",
            ["mailbox"],
            registry=registry,
        )
        self._duplicates = Counter(
            "maild_messages_duplicate_total",
            "Fetched messages that were already stored (a repeat after a crash or resync).",
            ["mailbox"],
            registry=registry,
        )
        self._processed = Counter(
            "maild_messages_processed_total",
            "Messages parsed and processed, per outcome (processed or quarantined).",
            ["outcome"],
            registry=registry,
        )
        self._uidvalidity = Counter(
            "maild_uidvalidity_changes_total",
            "Times a folder's UIDVALIDITY changed and the folder was resynced.",
            ["mailbox", "folder"],
            registry=registry,
        )
        self._sync_errors = Counter(
            "maild_sync_errors_total",
            "Folder syncs that failed, per mailbox and kind (transient or permanent).",
            ["mailbox", "kind"],
            registry=registry,
        )
        for outcome in ("processed", "quarantined"):
            self._processed.labels(outcome)

    def mailbox_configured(self, mailbox: str, folders: tuple[str, ...]) -> None:
        """Create the series of a configured mailbox at 0, so dashboards see no gaps."""
        self._landed.labels(mailbox)
        self._duplicates.labels(mailbox)
        for kind in ("transient", "permanent"):
            self._sync_errors.labels(mailbox, kind)
        for folder in folders:
            self._uidvalidity.labels(mailbox, folder)

    def landed(self, mailbox: str, stored: int, duplicates: int) -> None:
        self._landed.labels(mailbox).inc(stored)
        self._duplicates.labels(mailbox).inc(duplicates)

    def uidvalidity_changed(self, mailbox: str, folder: str) -> None:
        self._uidvalidity.labels(mailbox, folder).inc()

    def sync_failed(self, mailbox: str, kind: str) -> None:
        self._sync_errors.labels(mailbox, kind).inc()

    def processed(self, processed: int, quarantined: int) -> None:
        self._processed.labels("processed").inc(processed)
        self._processed.labels("quarantined").inc(quarantined)
