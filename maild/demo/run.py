"""``maild demo``: set up throwaway servers, run the daemon on seeded mail, show the results.

Every maild command the tour runs is printed first, as a newcomer would type it, so the
same commands can be tried by hand while the demo keeps running (``--keep``, the default
on a terminal). Ctrl-C at any point stops the daemon and the servers and removes the
files; nothing is left behind.
"""

__all__ = ["run_demo"]

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from maild.clock import utcnow
from maild.demo.seed import MAILBOXES, Seed, SeedMessage, seed_messages
from maild.demo.servers import DemoServers, DemoUnavailable, start_servers

if TYPE_CHECKING:
    from tests.support.dovecot import ImapAccount

STEPS = 4
WAIT_S = 180.0
LISTENING = re.compile(r"metrics listening address=(\S+)")
PROCESSED = re.compile(r'^maild_messages_processed_total\{outcome="\w+"\} (\S+)$', re.MULTILINE)
# Series of the scrape worth a first look: deadlines, the classifier, flags, the outbox.
HIGHLIGHTS = (
    "maild_conversations_awaiting",
    "maild_messages_classified_total",
    "maild_messages_flagged_total",
    "maild_outbound_sent_total",
    "maild_outbound_blocked_total",
)
BLOCKED_DRAFT = """\
Hello Emma,

So sorry for the wait! Track the parcel yourself at www.fastparcel-tracker.example,
or call me on +1 415 555 0137. Leave us a 5-star review and get a $10 coupon!
"""

CONFIG_HEAD = """\
# Written by maild demo: two mailboxes on a throwaway Dovecot, replies to an SMTP sink.
[database]
url = "sqlite:///{directory}/maild.db"

[metrics]
listen = "127.0.0.1:0"

[outbox]
poll_interval_s = 1
"""
MAILBOX = """
[mailboxes.{name}]
address = "{address}"
preset = "{preset}"

[mailboxes.{name}.imap]
host = "{imap_host}"
port = {imap_port}
security = "none"
username = "{username}"
password_file = "{name}.password"
sent_folder = ""

[mailboxes.{name}.smtp]
host = "{smtp_host}"
port = {smtp_port}
security = "none"

[mailboxes.{name}.outbound]
shop_name = "Example Home Goods"
"""


def _step(number: int, text: str) -> None:
    print(f"[{number}/{STEPS}] {text}", flush=True)


def _heading(text: str) -> None:
    print(f"\n== {text}", flush=True)


@dataclass(frozen=True)
class Maild:
    """Runs maild commands against the demo's config, showing each as one would type it."""

    config: Path

    def argv(self, *args: str, log_level: str = "INFO") -> list[str]:
        options = ["--log-level", log_level, "--config", str(self.config)]
        return [sys.executable, "-m", "maild", *options, *args]

    def shown(self, *args: str) -> str:
        return shlex.join(["maild", "--config", str(self.config), *args])

    def run(self, *args: str, show: bool = True) -> subprocess.CompletedProcess[str]:
        # Only warnings: the command's own output is what the tour shows.
        done = subprocess.run(  # noqa: S603 (this interpreter, maild, the demo's arguments)
            self.argv(*args, log_level="WARNING"),
            capture_output=True,
            text=True,
            timeout=WAIT_S,
            check=False,
        )
        if show:
            print(f"$ {self.shown(*args)}\n{done.stdout}{done.stderr}", end="", flush=True)
        return done

    def json(self, *args: str) -> Any:  # maild's documented --json output
        done = self.run(*args, "--json", show=False)
        if done.returncode != 0:
            raise DemoUnavailable(f"{self.shown(*args)} failed: {done.stderr.strip()}")
        return json.loads(done.stdout)


def _deliver(account: "ImapAccount", messages: list[SeedMessage]) -> None:
    """Into the Maildir, each with its arrival time as the file's mtime: Dovecot's INTERNALDATE."""
    cur = account.server.maildir(account.username) / "cur"
    for message in messages:
        before = set(cur.iterdir()) if cur.is_dir() else set()
        account.deliver([message.raw])
        if message.received is not None:
            stamp = message.received.timestamp()
            for path in set(cur.iterdir()) - before:
                os.utime(path, (stamp, stamp))


def _write_config(directory: Path, servers: DemoServers, seed: Seed) -> Path:
    text = CONFIG_HEAD.format(directory=directory)
    for name, (preset, address) in MAILBOXES.items():
        account = servers.account()
        _deliver(account, seed.messages[name])
        password = directory / f"{name}.password"
        password.touch(mode=0o600)
        password.write_text(account.password + "\n")
        text += MAILBOX.format(
            name=name,
            address=address,
            preset=preset,
            imap_host=account.host,
            imap_port=account.port,
            username=account.username,
            smtp_host=servers.smtp.host,
            smtp_port=servers.smtp.port,
        )
    config = directory / "maild.toml"
    config.write_text(text)
    return config


def _until(
    what: str, check: Callable[[], bool], log: Path, daemon: "subprocess.Popen[bytes]"
) -> None:
    """Wait for the daemon's outcome, bounded; its log tells why it did not come."""
    deadline = time.monotonic() + WAIT_S
    while not check():
        if daemon.poll() is not None or time.monotonic() > deadline:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
            problem = f"maild exited with {daemon.returncode}" if daemon.poll() else "timed out"
            raise DemoUnavailable(f"{problem} waiting for {what}; maild's log ends:\n{tail}")
        time.sleep(0.2)


@contextlib.contextmanager
def _daemon(maild: Maild, log: Path) -> Iterator["subprocess.Popen[bytes]"]:
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603 (this interpreter running maild)
            maild.argv("run"), stdin=subprocess.DEVNULL, stderr=sink
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback http)
        body: bytes = response.read()
    return body.decode()


def _metrics_url(log: Path) -> str | None:
    found = LISTENING.search(log.read_text(errors="replace"))
    return f"http://{found.group(1)}/metrics" if found else None


def _processed(url: str) -> int:
    try:
        return int(sum(float(value) for value in PROCESSED.findall(_scrape(url))))
    except OSError:  # the listener is up but a scrape failed; the next look decides
        return 0


def _thread_id(maild: Maild, *search: str) -> int:
    found = maild.json("threads", *search)
    if not found:
        raise DemoUnavailable(f"no conversation for {' '.join(search)}")
    return int(found[0]["id"])


def _flag_by_hand(maild: Maild) -> None:
    """An agent's flag: the Chinese promotion the classifier let through as ham."""
    thread = _thread_id(maild, "--mailbox", "douyin-shop", "--subject", "优惠券")
    ref = str(maild.json("show", str(thread))["messages"][0]["ref"])
    maild.run("flag", ref, "--reason", "spam")


@dataclass(frozen=True)
class _Running:
    maild: Maild
    servers: DemoServers
    daemon: "subprocess.Popen[bytes]"
    log: Path
    url: str

    def until(self, what: str, check: Callable[[], bool]) -> None:
        _until(what, check, self.log, self.daemon)


def _show_conversations(maild: Maild) -> None:
    _heading("Conversations, one per order, longest wait first")
    maild.run("threads")
    _heading("Flagged messages (the Spam view): the classifier's labels and an agent's flag")
    _flag_by_hand(maild)
    maild.run("threads", "--view", "spam")
    _heading("Customer Care messages (the marketplace's staff, due fast)")
    maild.run("threads", "--view", "customer-care")


def _show_replies(running: _Running, directory: Path) -> None:
    maild = running.maild
    emma = str(_thread_id(maild, "--order-id", "2000123456789"))
    _heading("A reply blocked by the outbound policy, with its explanation")
    draft = directory / "draft.txt"
    draft.write_text(BLOCKED_DRAFT)
    blocked = maild.run("reply", emma, "--body-file", str(draft))
    print(f"(exit code {blocked.returncode}: nothing was queued)")

    _heading("An accepted reply, sent by the running daemon to the SMTP sink")
    maild.run(
        "reply",
        emma,
        "--template",
        "problem-solution-en",
        "--var",
        "problem=The parcel was held at the carrier's depot.",
        "--var",
        "solution=We asked the carrier to deliver it by Friday.",
    )
    handler = running.servers.smtp.handler
    running.until("the reply to reach the SMTP sink", lambda: bool(handler.accepted))
    delivered = handler.accepted[0]
    print(f"delivered to the SMTP sink: from {delivered.mail_from} to {delivered.rcpt_tos[0]}")
    head, _, body = delivered.content.decode(errors="replace").partition("\r\n\r\n")
    for line in head.splitlines():
        if line.split(":")[0] in {"Subject", "Message-ID", "In-Reply-To"}:
            print(f"  {line}")
    print("  " + "\n  ".join(body.strip().splitlines()[:4]))
    maild.run("outbox")


def _show_metrics(url: str) -> None:
    _heading("Metrics for Prometheus and the Grafana dashboard")
    print(f"metrics URL: {url}")
    for line in _scrape(url).splitlines():
        name = re.split(r"[{ ]", line, maxsplit=1)[0]
        if name in HIGHLIGHTS and float(line.rsplit(" ", 1)[1]) > 0:
            print(f"  {line}")
    sys.stdout.flush()


def _wait_for_ctrl_c(maild: Maild) -> None:
    _heading("maild is running: try the commands above, e.g.")
    print(f"  {maild.shown('threads', '--view', 'response-needed')}")
    print("Press Ctrl-C to stop maild and the servers and remove the files.", flush=True)
    signal.pause()


def _demo(directory: Path, corpora: Path | None, keep: bool) -> None:
    _step(1, "starting a throwaway Dovecot (IMAP) and an SMTP sink on loopback")
    with start_servers() as servers:
        imap, smtp = servers.dovecot, servers.smtp
        print(f"      IMAP on {imap.host}:{imap.port}, SMTP sink on {smtp.host}:{smtp.port}")
        seed = seed_messages(corpora, utcnow())
        _step(
            2,
            f"seeding {seed.total} messages: {seed.marketplace} marketplace messages and "
            f"{seed.corpus} real ones from {seed.corpus_origin}",
        )
        maild = Maild(_write_config(directory, servers, seed))
        log = directory / "maild.log"
        _step(3, f"starting the daemon: {maild.shown('run')} (log: {log})")
        with _daemon(maild, log) as daemon:
            _until("the metrics listener", lambda: _metrics_url(log) is not None, log, daemon)
            running = _Running(maild, servers, daemon, log, _metrics_url(log) or "")
            _step(4, f"waiting for maild to fetch, thread and classify {seed.total} messages")
            running.until("processing", lambda: _processed(running.url) >= seed.total)
            _show_conversations(maild)
            _show_replies(running, directory)
            _show_metrics(running.url)
            if keep:
                _wait_for_ctrl_c(maild)


def run_demo(directory: Path | None, corpora: Path | None, keep: bool) -> None:
    """Run the demo in ``directory`` (kept), or in a temporary one removed at the end."""
    with contextlib.ExitStack() as stack:
        if directory is None:
            temporary = stack.enter_context(tempfile.TemporaryDirectory(prefix="maild-demo-"))
            directory = Path(temporary)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("maild.db*"):  # an earlier demo's, of servers now gone
            stale.unlink()
        print(f"demo files in {directory}", flush=True)
        _demo(directory, corpora, keep)


def default_corpora() -> Path | None:
    """``../shared/corpora`` beside the source checkout maild runs from, when it exists."""
    candidate = Path(__file__).resolve().parents[3] / "shared" / "corpora"
    return candidate if candidate.is_dir() else None
