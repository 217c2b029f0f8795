"""A private, throwaway Dovecot IMAP server for tests.

Tests talk to a real Dovecot (Debian ``dovecot-imapd``) because the quirks that matter to
maild's ingest (literal framing, UID assignment, IDLE batching, TLS) only show up on a real
server. Every instance lives in its own temp dir, listens on free loopback ports and runs
unprivileged, so several can run side by side with the system's own Dovecot untouched.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import trustme

from tests.support.dovecot_conf import render_config, render_oauth2_conf
from tests.support.maildir import MaildirWriter
from tests.support.processes import RunUser, find_process, session_members, terminate_session

__all__ = ["DovecotError", "DovecotServer", "ImapAccount"]

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
DH_PARAMS = Path("/usr/share/dovecot/dh.pem")
INSTALL_HINT = "run scripts/install-system-deps"
# Also a file name (one passwd-file per user), hence no '/' and no leading dot.
USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")


class DovecotError(RuntimeError):
    """Dovecot is missing, would not start or would not stop; the message carries its log."""


@dataclass(frozen=True)
class ImapAccount:
    """Everything a client needs to log in to one mailbox of the test server.

    The password stays out of ``repr`` so it never lands in an assertion message or a log.
    """

    host: str
    port: int
    tls_port: int
    ca_pem: Path
    username: str
    password: str = field(repr=False)
    server: DovecotServer = field(repr=False, compare=False)

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts only the throwaway CA, so TLS is verified for real."""
        return ssl.create_default_context(cafile=str(self.ca_pem))

    def deliver(self, messages: Iterable[bytes], folder: str = "INBOX") -> int:
        """Bulk-load messages into this mailbox without going through IMAP."""
        return self.server.deliver(self.username, messages, folder)


class DovecotServer:
    """One private Dovecot instance: temp dir, passwd-file users, plain and TLS listeners.

    The constructor only stores values; ``start()`` creates the directory, certificate and
    config and launches the daemon. Ports and files survive ``restart()`` so clients can
    reconnect to the same address, as they would after a real server restart.
    """

    def __init__(
        self,
        *,
        startup_timeout: float = 20.0,
        stop_timeout: float = 20.0,
        oauth2_introspection_url: str | None = None,
    ) -> None:
        """With ``oauth2_introspection_url``, XOAUTH2 logins are checked at that RFC 7662
        endpoint (Dovecot's oauth2 passdb); passwords keep working beside them."""
        self._startup_timeout = startup_timeout
        self._oauth2_introspection_url = oauth2_introspection_url
        self._stop_timeout = stop_timeout
        self._root: Path | None = None
        self._ports: tuple[int, int] = (0, 0)
        self._master_pid: int | None = None
        self._run_user = RunUser.current()
        self._writer: MaildirWriter | None = None
        self._binary = "dovecot"

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Launch Dovecot and return once it answers with its ``* OK`` banner."""
        if self._master_pid is not None:
            raise DovecotError("Dovecot is already running")
        if self._root is None:
            self._prepare()
        log.info("starting Dovecot on %s:%d (TLS %d)", HOST, self.port, self.tls_port)
        # Output goes to a file, not a pipe: the daemon inherits the descriptors, and a
        # pipe would then never reach EOF and subprocess.run would wait forever.
        with self._path("dovecot.out").open("ab") as output:
            returncode = subprocess.run(
                self._run_user.command([self._binary, "-c", str(self._config_path)]),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                check=False,
            ).returncode
        if returncode != 0:
            raise DovecotError(f"dovecot exited with {returncode}:\n{self.read_log()}")
        self._master_pid = find_process(["-c", str(self._config_path)])
        if self._master_pid is None:
            raise DovecotError(f"Dovecot's master is not running:\n{self.read_log()}")
        try:
            self._wait_for_banner(time.monotonic() + self._startup_timeout)
        except DovecotError:
            self.stop()  # a half-started daemon must not outlive the failed test
            raise

    def stop(self) -> None:
        """Stop Dovecot and wait until every one of its processes has exited.

        Waiting matters: a leftover ``imap`` process could still write to the Maildir of the
        next test, and a leftover master would keep the ports. Every process gets SIGTERM
        directly (see ``terminate_session``) instead of ``dovecot stop``, which only
        signals the master and then polls in whole seconds (2-3 s per stop). Connected
        clients see ``* BYE Server shutting down.``, as with a real server restart.
        """
        if self._master_pid is None:
            return
        master, self._master_pid = self._master_pid, None
        log.info("stopping Dovecot (master pid %d)", master)
        if not terminate_session(master, self._stop_timeout):
            raise DovecotError(f"Dovecot did not exit:\n{self.read_log()}")

    def restart(self) -> None:
        """Stop and start again on the same ports, keeping users and mail."""
        self.stop()
        self.start()

    def cleanup(self) -> None:
        """Stop the server and delete its temp dir, mail and certificate included."""
        self.stop()
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    # -- addresses ---------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return HOST

    @property
    def port(self) -> int:
        return self._ports[0]

    @property
    def tls_port(self) -> int:
        return self._ports[1]

    @property
    def ca_pem(self) -> Path:
        """PEM file of the throwaway CA; clients load it to verify ``localhost``/127.0.0.1."""
        return self._path("ca.pem")

    # -- users and mail ----------------------------------------------------------------------

    def add_user(self, name: str, password: str) -> None:
        """Create a user, usable at once.

        Each user gets a passwd-file of their own (the passdb path contains ``%u``):
        Dovecot re-reads a changed passwd-file at most once a second, so a user appended
        to a shared file right after another login is unknown for up to a second.
        """
        if not USERNAME.fullmatch(name):
            raise ValueError(f"user name {name!r} must match {USERNAME.pattern}")
        if not password or any(c in password for c in ":\r\n\0"):
            raise ValueError("password must be non-empty, without ':' or line breaks")
        self._maildir_writer().make_home(self._home(name))
        passwd = self._path("users") / name
        passwd.write_text(f"{name}:{{PLAIN}}{password}::::{self._home(name)}::\n")
        self._run_user.chown(passwd)

    def new_account(self) -> ImapAccount:
        """A fresh user with a random password, so tests never share a mailbox."""
        username = f"user-{secrets.token_hex(6)}"
        password = secrets.token_urlsafe(12)
        self.add_user(username, password)
        return ImapAccount(
            self.host, self.port, self.tls_port, self.ca_pem, username, password, self
        )

    def maildir(self, user: str) -> Path:
        return self._home(user) / "Maildir"

    def deliver(self, user: str, messages: Iterable[bytes], folder: str = "INBOX") -> int:
        """Write messages straight into the user's Maildir and return how many were written.

        Much faster than APPEND (50,000 messages in seconds). Dovecot assigns UIDs on the
        next SELECT, in delivery order. Use APPEND instead to test "a new message arrives".
        """
        return self._maildir_writer().deliver(self.maildir(user), messages, folder)

    def read_log(self) -> str:
        """Dovecot's log (logins, auth failures, errors) and its startup output, for
        debugging failed tests."""
        parts = []
        for name in ("dovecot.out", "dovecot.log"):
            try:
                parts.append(self._path(name).read_text(errors="replace"))
            except FileNotFoundError:
                continue
        return "".join(parts) or "(Dovecot wrote no log)"

    # -- internals ---------------------------------------------------------------------------

    def _path(self, name: str) -> Path:
        if self._root is None:
            raise DovecotError("Dovecot has not been started")
        return self._root / name

    @property
    def _config_path(self) -> Path:
        return self._path("dovecot.conf")

    def _home(self, user: str) -> Path:
        return self._path("home") / user

    def _maildir_writer(self) -> MaildirWriter:
        if self._writer is None:
            raise DovecotError("Dovecot has not been started")
        return self._writer

    def _prepare(self) -> None:
        """Create the temp dir, certificate and config, all owned by the run user."""
        # /usr/sbin is often missing from a non-root PATH.
        binary = shutil.which("dovecot", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
        if binary is None:
            raise DovecotError(f"Dovecot is not installed: {INSTALL_HINT}")
        self._binary = binary
        if not DH_PARAMS.is_file():
            raise DovecotError(f"{DH_PARAMS} is missing: {INSTALL_HINT}")
        # Not pytest's tmp_path: its parents are 0700 root, which the run user cannot enter.
        root = Path(tempfile.mkdtemp(prefix="maild-dovecot-"))
        self._root = root
        self._ports = _free_ports()
        for sub in ("run", "state", "home", "users"):
            (root / sub).mkdir()
        ca = trustme.CA()
        ca.cert_pem.write_to_path(str(root / "ca.pem"))
        leaf = ca.issue_cert("localhost", HOST)
        leaf.private_key_pem.write_to_path(str(root / "key.pem"))
        (root / "cert.pem").write_bytes(b"".join(pem.bytes() for pem in leaf.cert_chain_pems))
        oauth2 = None
        if self._oauth2_introspection_url is not None:
            oauth2 = root / "dovecot-oauth2.conf.ext"
            oauth2.write_text(render_oauth2_conf(self._oauth2_introspection_url))
        config = render_config(
            root,
            HOST,
            self._ports,
            self._run_user,
            DH_PARAMS,
            instance=f"maild-test-{root.name[-8:]}",
            oauth2=oauth2,
        )
        (root / "dovecot.conf").write_text(config)
        self._run_user.chown_tree(root)
        self._writer = MaildirWriter(self._run_user)

    def _wait_for_banner(self, deadline: float) -> None:
        """Connect until the ``* OK`` greeting arrives; only a real greeting means ready.

        ``dovecot`` returns after binding its listeners, so the first connect normally
        succeeds and ``recv`` blocks until imap-login greets; the retry is for slow starts.
        """
        last_error: Exception | None = None
        backoff = 0.01
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                with (
                    socket.create_connection((HOST, self.port), timeout=remaining) as sock,
                    sock.makefile("rb") as reader,
                ):
                    banner = reader.readline()
                if banner.startswith(b"* OK"):
                    return
                last_error = DovecotError(f"unexpected greeting {banner!r}")
            except OSError as exc:
                last_error = exc
            if self._master_pid is not None and not session_members(self._master_pid):
                raise DovecotError(f"Dovecot exited while starting:\n{self.read_log()}")
            # Only reached if Dovecot is slow to start: back off briefly, bounded above.
            time.sleep(min(backoff, max(deadline - time.monotonic(), 0)))
            backoff = min(backoff * 2, 0.5)
        raise DovecotError(f"Dovecot not ready ({last_error}):\n{self.read_log()}")


def _free_ports() -> tuple[int, int]:
    """Two distinct free loopback ports, held together so they cannot be the same one."""
    with socket.socket() as first, socket.socket() as second:
        first.bind((HOST, 0))
        second.bind((HOST, 0))
        return first.getsockname()[1], second.getsockname()[1]
