"""The always-on daemon: every watched folder kept in sync, supervised and reloadable.

Each folder has its own task and IMAP connection, so it can wait in IDLE and new
mail lands within a second or two; without IDLE it polls. A task that fails
(server down, login refused, timeout, a bug) is logged, recorded and restarted
with backoff; it never stops another mailbox. One processing task parses what
lands. SIGTERM or SIGINT: no further batch is fetched, batches already fetched
land, connections log out, and ``run`` returns. SIGHUP: the config is read again;
mailboxes added, removed or changed start, stop or restart, and a config that
does not load is refused with its problems logged while the running one goes on.
On PostgreSQL several instances share the mailboxes: each runs, processes, sends and
reports only those it holds the lease of (maild.lease_keeper).
"""

__all__ = ["IDLE_RENEW_S", "STOP_GRACE_S", "Daemon"]

import asyncio
import contextlib
import logging
import random
import signal
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime

from maild.backoff import Backoff
from maild.config import Loader, Settings
from maild.config.settings import MailboxSettings
from maild.errors import ConfigError, MaildError, PermanentError
from maild.gateway.listeners import Gateways
from maild.gateway.metrics import GatewayMetrics
from maild.ingest.imap import ImapClient
from maild.ingest.mailbox import (
    FolderSpec,
    endpoint_for,
    record_error,
    record_folder,
    resolve_folder,
    watched_folders,
)
from maild.ingest.pipeline import Processor
from maild.ingest.rules import rules_for
from maild.ingest.sync import Clock, sync_folder
from maild.lease_keeper import LeaseKeeper, instance_name
from maild.metrics import Metrics
from maild.oauth import TokenProvider, token_provider
from maild.outbound.sender import Sender
from maild.service_notify import ServiceNotifier
from maild.sla.policy import SlaPolicy
from maild.sla.presets import mailbox_policies
from maild.sla_ticker import SLA_TICK_S, SlaTicker
from maild.store import Store
from maild.tasks import cancel_and_wait, sleep_unless

log = logging.getLogger(__name__)

# RFC 2177: a server may end an IDLE after 30 minutes. Renewing every 5 minutes, with a
# sync, also refreshes the folder's last-sync time, which alerts page on after 10.
IDLE_RENEW_S = 5 * 60.0
# A stopping folder task gets this long to land what it fetched; then it is cancelled.
# Below systemd's and the 10 s budget for the whole shutdown.
STOP_GRACE_S = 7.0
# How often a mailbox whose server marks no Sent folder is asked again (one may be made).
SENT_RECHECK_S = 600.0

DEFAULT_BACKOFF = Backoff(initial_s=1.0, factor=2.0, cap_s=300.0, jitter=0.25)


@dataclass
class _Running:
    """One mailbox's folder tasks and the event that asks them to stop."""

    settings: MailboxSettings
    # One per mailbox for as long as its settings hold: its folder connections share the
    # cached access token and any refresh in flight.
    tokens: TokenProvider | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list["asyncio.Task[None]"] = field(default_factory=list)


class Daemon:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        metrics: Metrics,
        *,
        load: Loader | None = None,
        backoff: Backoff = DEFAULT_BACKOFF,
        draw: Callable[[], float] = random.random,
        idle_renew_s: float = IDLE_RENEW_S,
        notifier: ServiceNotifier | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        self._metrics = metrics
        self._load = load
        self._backoff = backoff
        self._draw = draw
        self._idle_renew_s = idle_renew_s
        self._notifier = notifier or ServiceNotifier(None)
        self._processor = Processor(store, clock, metrics, rules=rules_for(settings))
        self._running: dict[str, _Running] = {}
        self._landed = asyncio.Event()
        self._stopping = asyncio.Event()
        self._reload_lock = asyncio.Lock()
        self._reloads: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()
        self._me = instance_name(settings.database.instance)
        self._keeper: LeaseKeeper | None = None
        # None: this instance is the only one and owns every configured mailbox.
        self._owned: frozenset[str] | None = None
        if store.leased:
            self._keeper = LeaseKeeper(store, self._me, settings.database.lease_period_s, clock)
            self._owned = frozenset()
        self._sla = SlaTicker(store, metrics, {})
        self._sla.configure(self._policies(settings))
        self._outbox = Sender(settings, store, clock, metrics, on_sent=self._landed.set, draw=draw)
        # The SMTP submission gateway (maild.gateway); readiness asks it for its problems.
        self.gateways = Gateways(
            settings,
            store,
            clock,
            GatewayMetrics(metrics.registry),
            on_queued=self._outbox.wake,
            # A refusal is a row the SLA ticker counts in maild_outbound_blocked_total.
            on_refused=self._changed.set,
            grace_s=STOP_GRACE_S,
        )
        self._processor.mailboxes = self._owned

    async def run(self) -> None:
        """Run until SIGTERM or SIGINT (or :meth:`stop`), then shut down cleanly."""
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.stop)
        loop.add_signal_handler(signal.SIGINT, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        self._landed.set()  # whatever an earlier run left unprocessed
        if self._owned is not None:  # nothing is sent until a lease is taken
            await self._outbox.own(self._owned)
        processing = asyncio.create_task(self._process_forever())
        ticking = asyncio.create_task(self._sla_forever())
        sending = asyncio.create_task(self._outbox.run(self._stopping))
        watchdog = asyncio.create_task(self._notifier.watchdog_forever(self._stopping))
        leasing = asyncio.create_task(self._lease_forever())
        try:
            for name, settings in self._settings.mailboxes.items():
                if self._owns(name):
                    self._start(name, settings)
                else:
                    self._metrics.mailbox_removed(name, settings.imap.folders)
            self._show_leases()
            await self.gateways.start()
            log.info("maild running mailboxes=%d", len(self._running))
            self._notifier.ready()
            await self._stopping.wait()
            log.info("maild stopping")
        finally:
            self._notifier.stopping()
            await cancel_and_wait(watchdog)
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            for reload in list(self._reloads):
                await cancel_and_wait(reload)
            # A lease round in progress ends (it may stop or start mailboxes) before
            # the mailboxes stop, and the leases are given up only after that.
            await asyncio.wait([leasing], timeout=STOP_GRACE_S)
            await cancel_and_wait(leasing)
            # A message being sent gets the same grace as the folders, beside them; one
            # cancelled later is recovered at the next start (maild.outbound.outbox).
            # The gateway's messages are committed before their 250, so the sender
            # may stop first: the next start sends them.
            await asyncio.gather(
                *(self._stop_mailbox(name) for name in list(self._running)),
                asyncio.wait([sending], timeout=STOP_GRACE_S),
                self.gateways.stop(),
            )
            await cancel_and_wait(sending)
            if self._keeper is not None:
                await self._keeper.leave()
            # A tick in its thread ends, not abandoned: it holds a database connection.
            self._changed.set()
            await asyncio.wait([ticking], timeout=STOP_GRACE_S)
            await cancel_and_wait(ticking)
            await cancel_and_wait(processing)
            await self._processor.settle(STOP_GRACE_S)
            await asyncio.to_thread(self._processor.close)
        log.info("maild stopped")

    def stop(self) -> None:
        self._stopping.set()

    def reload(self) -> None:
        """Re-read the config in the background (SIGHUP); reloads run one at a time."""
        if self._stopping.is_set():
            return
        task = asyncio.get_running_loop().create_task(self._reload())
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)

    def _owns(self, name: str) -> bool:
        return self._owned is None or name in self._owned

    def _policies(self, settings: Settings) -> dict[str, SlaPolicy | None]:
        """Deadline policies of the owned mailboxes: their gauges are this instance's."""
        return {n: p for n, p in mailbox_policies(settings).items() if self._owns(n)}

    def _show_leases(self) -> None:
        folders = {n: m.imap.folders for n, m in self._settings.mailboxes.items()}
        owned = folders.keys() if self._owned is None else self._owned
        self._metrics.leases(self._me, folders, owned)

    async def _lease_forever(self) -> None:
        if self._keeper is not None:
            await self._keeper.run(self._stopping, lambda: self._settings.mailboxes, self._own)

    async def _own(self, owned: frozenset[str]) -> None:
        """Run exactly the ``owned`` mailboxes: stop those given up, start those taken."""
        async with self._reload_lock:
            mailboxes = self._settings.mailboxes
            owned &= mailboxes.keys()
            before = self._owned or frozenset()
            if owned == before:
                return
            await self._outbox.own(owned)
            self._owned = owned
            await asyncio.gather(
                *(self._stop_mailbox(n) for n in before - owned if n in self._running)
            )
            for name in before - owned:
                self._metrics.mailbox_removed(name, mailboxes[name].imap.folders)
            for name in owned - before:
                folders, paused = mailboxes[name].imap.folders, mailboxes[name].paused
                self._metrics.mailbox_configured(name, folders, paused=paused)
                self._start(name, mailboxes[name])
            self._processor.mailboxes = owned
            self._sla.configure(self._policies(self._settings))
            self._show_leases()
            self._changed.set()
            self._landed.set()  # what the last owner landed and left unprocessed

    def _start(self, name: str, settings: MailboxSettings) -> None:
        def obtained(at: datetime) -> None:
            self._metrics.oauth_token_obtained(name, at.timestamp())

        tokens = token_provider(name, settings.imap, self._clock, on_new_token=obtained)
        running = _Running(settings, tokens)
        for spec in watched_folders(settings.imap):
            running.tasks.append(asyncio.create_task(self._supervise(name, spec, running)))
        self._running[name] = running

    async def _stop_mailbox(self, name: str) -> None:
        running = self._running.pop(name)
        running.stop.set()
        _done, late = await asyncio.wait(running.tasks, timeout=STOP_GRACE_S)
        for task in late:
            log.warning("folder task did not stop in time mailbox=%s; cancelling", name)
            await cancel_and_wait(task)

    async def _supervise(self, name: str, spec: FolderSpec, running: _Running) -> None:
        """Keep one folder synced; after a failure wait (backoff) and start over."""
        failures = 0

        def healthy() -> None:
            nonlocal failures
            failures = 0

        while not running.stop.is_set():
            try:
                await self._watch(name, spec, running, healthy)
                return
            except MaildError as exc:
                kind = "permanent" if isinstance(exc, PermanentError) else "transient"
                log.error(
                    "folder task failed mailbox=%s folder=%s kind=%s error=%s",
                    name,
                    spec.name,
                    kind,
                    exc,
                )
                self._metrics.sync_failed(name, kind)
                await record_error(self._store, name, (spec.name,), str(exc))
            except Exception:
                log.exception("folder task crashed mailbox=%s folder=%s", name, spec.name)
                self._metrics.sync_failed(name, "transient")
            failures += 1
            delay = self._backoff.delay(failures, self._draw())
            log.info(
                "folder task restarts mailbox=%s folder=%s in_s=%.1f failures=%d",
                name,
                spec.name,
                delay,
                failures,
            )
            await sleep_unless(running.stop, delay)
            if not running.stop.is_set():
                self._metrics.reconnected(name)

    async def _watch(
        self, name: str, spec: FolderSpec, running: _Running, healthy: Callable[[], None]
    ) -> None:
        imap_settings = running.settings.imap
        async with ImapClient(endpoint_for(imap_settings, running.tokens)) as imap:
            folder = await resolve_folder(imap, spec)
            while folder is None:
                await sleep_unless(running.stop, SENT_RECHECK_S)
                if running.stop.is_set():
                    return
                folder = await resolve_folder(imap, spec)
            while not running.stop.is_set():
                result = await sync_folder(
                    imap,
                    self._store,
                    name,
                    folder,
                    imap_settings.fetch_batch,
                    self._clock,
                    self._landed.set,
                    direction=spec.direction,
                    stop=running.stop,
                )
                record_folder(self._metrics, result)
                self._metrics.ingest_lag(name, result.lags)
                self._metrics.folder_synced(name, folder, self._clock().timestamp())
                healthy()
                if imap_settings.idle and imap.supports_idle:
                    await imap.wait_for_mail(self._idle_renew_s, running.stop)
                else:
                    await sleep_unless(running.stop, imap_settings.poll_interval_s)

    async def _process_forever(self) -> None:
        failures = 0
        while True:
            await self._landed.wait()
            self._landed.clear()
            try:
                await self._processor.run()
                failures = 0
                self._changed.set()
                continue
            except BrokenProcessPool:
                log.error("a parse worker died; starting new workers")
                await asyncio.to_thread(self._processor.close)
            except MaildError as exc:
                log.error("processing failed error=%s", exc)
            except Exception:
                log.exception("processing crashed")
            failures += 1
            await sleep_unless(self._stopping, self._backoff.delay(failures, self._draw()))
            self._landed.set()

    async def _sla_forever(self) -> None:
        """Recompute the deadline gauges every SLA_TICK_S, and soon after mail is processed."""
        while not self._stopping.is_set():
            try:
                await asyncio.to_thread(self._sla.tick, self._clock())
            except MaildError as exc:
                log.error("sla gauges not updated error=%s", exc)
            except Exception:
                log.exception("sla ticker crashed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SLA_TICK_S):
                    await self._changed.wait()
            self._changed.clear()

    async def _reload(self) -> None:
        async with self._reload_lock, self._notifier.reloading():
            if self._load is None:
                log.warning("reload ignored: maild was not started from a config file")
                return
            try:
                new = await asyncio.to_thread(self._load)
            except ConfigError as exc:
                for problem in exc.problems:
                    log.error("reload refused: %s", problem)
                log.error(
                    "reload refused problems=%d; the running configuration stays",
                    len(exc.problems),
                )
                return
            await self._apply(new)

    async def _apply(self, new: Settings) -> None:
        old = self._settings
        for part in ("database", "metrics"):
            if getattr(new, part) != getattr(old, part):
                log.warning("reload: [%s] changed; it takes effect when maild restarts", part)
        added = new.mailboxes.keys() - old.mailboxes.keys()
        removed = old.mailboxes.keys() - new.mailboxes.keys()
        changed = {
            n
            for n in new.mailboxes.keys() & old.mailboxes.keys()
            if new.mailboxes[n] != old.mailboxes[n]
        }
        starting = {n: new.mailboxes[n] for n in new.mailboxes if n in added | changed}
        try:
            rules = await asyncio.to_thread(rules_for, new)
            await asyncio.to_thread(
                self._store.ensure_mailboxes,
                {n: s.address for n, s in starting.items()},
                self._clock(),
            )
        except MaildError as exc:
            log.error("reload refused: %s; the running configuration stays", exc)
            return
        await asyncio.gather(
            *(self._stop_mailbox(n) for n in removed | changed if n in self._running)
        )
        for name in removed:
            self._metrics.mailbox_removed(name, old.mailboxes[name].imap.folders)
        if self._owned is not None:
            self._owned -= removed
        for name, settings in starting.items():
            if self._owns(name):
                self._metrics.mailbox_configured(
                    name, settings.imap.folders, paused=settings.paused
                )
                self._start(name, settings)
        self._processor.rules = rules
        self._settings = new
        self._sla.configure(self._policies(new))
        self._outbox.configure(new)
        await self.gateways.configure(new)
        self._show_leases()
        self._changed.set()
        log.info(
            "config reloaded added=%d removed=%d changed=%d unchanged=%d",
            len(added),
            len(removed),
            len(changed),
            len(new.mailboxes) - len(added) - len(changed),
        )
