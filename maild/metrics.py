"""maild's Prometheus metrics, on a registry the caller owns.

Named methods instead of bare counters keep label values to config keys and
enums: a mailbox name, a folder from the config, an outcome. Never an order ID,
an address or a subject (CONVENTIONS 3); tests assert it.
"""

__all__ = ["Metrics"]

import contextlib
from collections.abc import Collection, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from maild import __version__
from maild.classify.flagging import REASONS
from maild.sla.snapshot import DUE_BUCKETS, STATES, Snapshot

# First replies are judged against 2 h, 24 h and 48 h deadlines: each is a bucket edge.
_RESPONSE_BUCKETS = (300, 900, 1800, 3600, 7200, 14400, 28800, 43200, 86400, 172800, 345600)
_LAG_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600)


class Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._landed = Counter(
            "maild_messages_landed_total",
            "Messages stored for the first time, per mailbox and direction (in, or out: Sent).",
            ["mailbox", "direction"],
            registry=registry,
        )
        self._reconnects = Counter(
            "maild_imap_reconnects_total",
            "Times a folder's connection was opened again after a failure.",
            ["mailbox"],
            registry=registry,
        )
        self._outbound_sent = Counter(
            "maild_outbound_sent_total",
            "Outbound replies the SMTP server accepted.",
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
        self._classified = Counter(
            "maild_messages_classified_total",
            "Inbound messages the classifier labelled, per label (ham included).",
            ["label"],
            registry=registry,
        )
        self._lag = Histogram(
            "maild_ingest_lag_seconds",
            "From a message's arrival on the server to its landing in maild's database.",
            ["mailbox"],
            buckets=_LAG_BUCKETS,
            registry=registry,
        )
        self._awaiting = Gauge(
            "maild_conversations_awaiting",
            "Conversations waiting for a reply, per mailbox, kind and deadline state.",
            ["mailbox", "kind", "state"],
            registry=registry,
        )
        self._due_within = Gauge(
            "maild_conversations_due_within",
            "Conversations not yet overdue whose deadline falls within the bucket.",
            ["mailbox", "due_bucket"],
            registry=registry,
        )
        self._oldest = Gauge(
            "maild_oldest_awaiting_timestamp_seconds",
            "When the oldest customer message still waiting for a reply arrived (0: none).",
            ["mailbox"],
            registry=registry,
        )
        self._next_deadline = Gauge(
            "maild_next_deadline_timestamp_seconds",
            "The earliest deadline still ahead (Unix time; 0: none).",
            ["mailbox"],
            registry=registry,
        )
        self._first_response = Histogram(
            "maild_first_response_business_seconds",
            "Business time from a customer's message to the seller's first reply.",
            ["mailbox", "kind"],
            buckets=_RESPONSE_BUCKETS,
            registry=registry,
        )
        self._in_time = Gauge(
            "maild_platform_answered_in_time_ratio",
            "Share of first replies within the platform deadline over the last 30 days.",
            ["mailbox"],
            registry=registry,
        )
        # Counted from the feedback table by the daemon's ticker: maild flag and unflag
        # run in their own processes, and each change is counted once (maild.store.sla_feed).
        self._flagged = Counter(
            "maild_messages_flagged_total",
            "Messages a person flagged (maild flag), per reason.",
            ["mailbox", "reason"],
            registry=registry,
        )
        self._unflagged = Counter(
            "maild_messages_unflagged_total",
            "Spam, fraud or inappropriate labels taken off (maild unflag, or a reply), per label.",
            ["mailbox", "reason"],
            registry=registry,
        )
        self._outbound_blocked = Counter(
            "maild_outbound_blocked_total",
            "Outbound replies refused by the policy, per rule.",
            ["mailbox", "rule"],
            registry=registry,
        )
        self._outbound_failed = Counter(
            "maild_outbound_failed_total",
            "Outbound replies that could not be delivered after their retries.",
            ["mailbox"],
            registry=registry,
        )
        # Hand-offs to the platform's own service, billed to the seller (issue 12):
        # counted once from the store, like flags; the share is over 30 days.
        self._escalated = Counter(
            "maild_conversations_escalated_total",
            "Conversations the marketplace's own service took over (a hand-off).",
            ["mailbox"],
            registry=registry,
        )
        self._escalated_share = Gauge(
            "maild_conversations_escalated_ratio",
            "Share of the conversations active in the last 30 days that were handed off.",
            ["mailbox"],
            registry=registry,
        )
        self._mailbox_info = Gauge(
            "maild_mailbox_info",
            "A configured mailbox (always 1); paused: the shop is paused, clocks still run.",
            ["mailbox", "paused"],
            registry=registry,
        )
        self._paused: dict[str, str] = {}
        # "owner", not "instance": Prometheus gives every scraped series an instance label.
        self._lease_owned = Gauge(
            "maild_lease_owned",
            "1 for each folder this instance (owner) holds the mailbox's lease of, 0 for the"
            " other folders it is configured for; summed over owners, 1 per folder.",
            ["mailbox", "folder", "owner"],
            registry=registry,
        )
        self._leased: set[tuple[str, str, str]] = set()
        Gauge(
            "maild_build_info",
            "The maild version running (always 1).",
            ["version"],
            registry=registry,
        ).labels(__version__).set(1)
        self._kinds: dict[str, frozenset[str]] = {}
        for outcome in ("processed", "quarantined"):
            self._processed.labels(outcome)

    def mailbox_configured(
        self, mailbox: str, folders: tuple[str, ...], *, paused: bool = False
    ) -> None:
        """Create the series of a configured mailbox at 0, so dashboards see no gaps."""
        shown = "true" if paused else "false"
        if self._paused.get(mailbox, shown) != shown:
            _discard(self._mailbox_info, mailbox, self._paused[mailbox])
        self._paused[mailbox] = shown
        self._mailbox_info.labels(mailbox, shown).set(1)
        self._escalated.labels(mailbox)
        for direction in ("in", "out"):
            self._landed.labels(mailbox, direction)
        self._duplicates.labels(mailbox)
        self._reconnects.labels(mailbox)
        self._outbound_sent.labels(mailbox)
        for kind in ("transient", "permanent"):
            self._sync_errors.labels(mailbox, kind)
        for reason in REASONS:
            self._flagged.labels(mailbox, reason)
            self._unflagged.labels(mailbox, reason)
        for folder in folders:
            self._uidvalidity.labels(mailbox, folder)
            self._last_sync.labels(mailbox, folder)

    def sla_configured(self, mailbox: str, kinds: frozenset[str]) -> None:
        """Create a mailbox's SLA series at 0: every kind x state and every due bucket."""
        self._kinds[mailbox] = kinds
        for kind in kinds:
            for state in STATES:
                self._awaiting.labels(mailbox, kind, state)
        for bucket, _ in DUE_BUCKETS:
            self._due_within.labels(mailbox, bucket)
        for gauge in (self._oldest, self._next_deadline):
            gauge.labels(mailbox)
        self._outbound_failed.labels(mailbox)

    def sla_snapshot(self, shot: Snapshot) -> None:
        for mailbox, kinds in self._kinds.items():
            for kind in kinds:
                for state in STATES:
                    value = shot.awaiting.get((mailbox, kind, state), 0)
                    self._awaiting.labels(mailbox, kind, state).set(value)
            for bucket, _ in DUE_BUCKETS:
                count = shot.due_within.get((mailbox, bucket), 0)
                self._due_within.labels(mailbox, bucket).set(count)
            oldest, soonest = shot.oldest.get(mailbox), shot.next_deadline.get(mailbox)
            self._oldest.labels(mailbox).set(oldest.timestamp() if oldest else 0)
            self._next_deadline.labels(mailbox).set(soonest.timestamp() if soonest else 0)

    def leases(
        self, owner: str, folders: Mapping[str, tuple[str, ...]], owned: Collection[str]
    ) -> None:
        """Show who owns what: the ``folders`` of every configured mailbox, 1 if owned."""
        series = {(m, f, owner): m in owned for m, names in folders.items() for f in names}
        for gone in self._leased - series.keys():
            _discard(self._lease_owned, *gone)
        for labels, held in series.items():
            self._lease_owned.labels(*labels).set(1 if held else 0)
        self._leased = set(series)

    def first_response(self, mailbox: str, kind: str, seconds: float) -> None:
        self._first_response.labels(mailbox, kind).observe(seconds)

    def answered_in_time(self, mailbox: str, ratio: float | None) -> None:
        """None: no first response in the window, so no ratio (not 0, which would page)."""
        if ratio is None:
            _discard(self._in_time, mailbox)
        else:
            self._in_time.labels(mailbox).set(ratio)

    def escalated(self, mailboxes: list[str]) -> None:
        """Count hand-offs, one mailbox name each."""
        for mailbox in mailboxes:
            self._escalated.labels(mailbox).inc()

    def escalated_shares(self, shares: dict[str, float]) -> None:
        """The 30-day shares; a configured mailbox with no conversation there has none."""
        for mailbox in self._paused:
            if mailbox in shares:
                self._escalated_share.labels(mailbox).set(shares[mailbox])
            else:
                _discard(self._escalated_share, mailbox)

    def flags_changed(self, changes: list[tuple[str, str, str]]) -> None:
        """Count (mailbox, action, reason) feedback: action "flag" or "unflag"."""
        for mailbox, action, reason in changes:
            counter = self._flagged if action == "flag" else self._unflagged
            counter.labels(mailbox, reason).inc()

    def classified(self, counts: dict[str, int]) -> None:
        for label, count in counts.items():
            self._classified.labels(label).inc(count)

    def ingest_lag(self, mailbox: str, lags: tuple[float, ...]) -> None:
        for lag in lags:
            self._lag.labels(mailbox).observe(max(lag, 0.0))

    def mailbox_removed(self, mailbox: str, folders: tuple[str, ...]) -> None:
        """Drop a mailbox's series when a reload removes it, so no stale gauge lingers."""
        for kind in self._kinds.pop(mailbox, frozenset()):
            for state in STATES:
                _discard(self._awaiting, mailbox, kind, state)
        for bucket, _ in DUE_BUCKETS:
            _discard(self._due_within, mailbox, bucket)
        for series in (self._oldest, self._next_deadline, self._in_time, self._outbound_failed):
            _discard(series, mailbox)
        for direction in ("in", "out"):
            _discard(self._landed, mailbox, direction)
        per_mailbox = (self._duplicates, self._oauth_token, self._reconnects, self._outbound_sent)
        for series in (*per_mailbox, self._escalated, self._escalated_share):
            _discard(series, mailbox)
        _discard(self._mailbox_info, mailbox, self._paused.pop(mailbox, "false"))
        for kind in ("transient", "permanent"):
            _discard(self._sync_errors, mailbox, kind)
        for reason in REASONS:
            _discard(self._flagged, mailbox, reason)
            _discard(self._unflagged, mailbox, reason)
        for folder in folders:
            _discard(self._uidvalidity, mailbox, folder)
            _discard(self._last_sync, mailbox, folder)

    def folder_synced(self, mailbox: str, folder: str, at: float) -> None:
        self._last_sync.labels(mailbox, folder).set(at)

    def oauth_token_obtained(self, mailbox: str, at: float) -> None:
        """For a token provider's ``on_new_token``; only XOAUTH2 mailboxes have the series."""
        self._oauth_token.labels(mailbox).set(at)

    def landed(self, mailbox: str, stored: int, duplicates: int, direction: str = "in") -> None:
        self._landed.labels(mailbox, direction).inc(stored)
        self._duplicates.labels(mailbox).inc(duplicates)

    def reconnected(self, mailbox: str) -> None:
        self._reconnects.labels(mailbox).inc()

    def uidvalidity_changed(self, mailbox: str, folder: str) -> None:
        self._uidvalidity.labels(mailbox, folder).inc()

    def sync_failed(self, mailbox: str, kind: str) -> None:
        self._sync_errors.labels(mailbox, kind).inc()

    def processed(self, processed: int, quarantined: int) -> None:
        self._processed.labels("processed").inc(processed)
        self._processed.labels("quarantined").inc(quarantined)

    def outbound_sent(self, mailbox: str) -> None:
        self._outbound_sent.labels(mailbox).inc()

    def outbound_failed(self, mailbox: str) -> None:
        self._outbound_failed.labels(mailbox).inc()

    def outbound_blocked(self, refusals: list[tuple[str, str]]) -> None:
        """Count (mailbox, rule) refusals of the outbound policy."""
        for mailbox, rule in refusals:
            self._outbound_blocked.labels(mailbox, rule).inc()


def _discard(series: Counter | Gauge | Histogram, *labels: str) -> None:
    with contextlib.suppress(KeyError):
        series.remove(*labels)
