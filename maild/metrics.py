"""maild's Prometheus metrics, on a registry the caller owns.

Named methods instead of bare counters keep label values to config keys and
enums: a mailbox name, a folder from the config, an outcome. Never an order ID,
an address or a subject (CONVENTIONS 3); tests assert it.
"""

__all__ = ["Metrics"]

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge


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
        self._last_sync = Gauge(
            "maild_folder_last_sync_timestamp_seconds",
            "When a folder was last synced without error (Unix time; 0 = not yet).",
            ["mailbox", "folder"],
            registry=registry,
        )
        # A point in time, not an age (CONVENTIONS 1): the age is time() minus it.
        self._oauth_token = Gauge(
            "maild_oauth_token_obtained_timestamp_seconds",
            "When the mailbox's current OAuth2 access token was obtained (Unix time).",
            ["mailbox"],
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
            self._last_sync.labels(mailbox, folder)

    def mailbox_removed(self, mailbox: str, folders: tuple[str, ...]) -> None:
        """Drop a mailbox's series when a reload removes it, so no stale gauge lingers."""
        for series in (self._landed, self._duplicates, self._oauth_token):
            _discard(series, mailbox)
        for kind in ("transient", "permanent"):
            _discard(self._sync_errors, mailbox, kind)
        for folder in folders:
            _discard(self._uidvalidity, mailbox, folder)
            _discard(self._last_sync, mailbox, folder)

    def folder_synced(self, mailbox: str, folder: str, at: float) -> None:
        self._last_sync.labels(mailbox, folder).set(at)

    def oauth_token_obtained(self, mailbox: str, at: float) -> None:
        """For a token provider's ``on_new_token``; only XOAUTH2 mailboxes have the series."""
        self._oauth_token.labels(mailbox).set(at)

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


def _discard(series: Counter | Gauge, *labels: str) -> None:
    with contextlib.suppress(KeyError):
        series.remove(*labels)
