"""Who test daemons run as, and how to stop a daemon the tests did not fork themselves.

Dovecot daemonizes and its master calls setsid, so all of its processes share a session
whose id is the master's pid. They are not our children and ``wait()`` cannot be used,
but a pidfd can be waited on for any process, which avoids polling with sleeps.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import select
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "RunUser",
    "find_process",
    "is_root",
    "session_members",
    "terminate_session",
]


@dataclass(frozen=True)
class RunUser:
    """The unprivileged account Dovecot and its files belong to.

    Dovecot refuses to run mail processes as root, so as root we hand everything to
    ``nobody``; as an ordinary user, Dovecot simply runs as that user.
    """

    name: str
    group: str
    uid: int
    gid: int

    @classmethod
    def current(cls) -> RunUser:
        account = pwd.getpwnam("nobody") if is_root() else pwd.getpwuid(os.getuid())
        group = grp.getgrgid(account.pw_gid)
        return cls(account.pw_name, group.gr_name, account.pw_uid, group.gr_gid)

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv``, run as this user (setpriv drops root; otherwise we already are it)."""
        if not is_root():
            return list(argv)
        return [
            "setpriv",
            f"--reuid={self.uid}",
            f"--regid={self.gid}",
            "--clear-groups",
            *argv,
        ]

    def chown(self, path: Path) -> None:
        if is_root():
            os.chown(path, self.uid, self.gid)

    def chown_tree(self, root: Path) -> None:
        self.chown(root)
        for parent, dirs, files in os.walk(root):
            for name in (*dirs, *files):
                self.chown(Path(parent, name))


def is_root() -> bool:
    return os.geteuid() == 0


def find_process(arguments: Sequence[str]) -> int | None:
    """The live process whose arguments (after argv[0]) are exactly ``arguments``.

    Finds a daemon by its unique command line, e.g. ``-c /tmp/.../dovecot.conf``: when the
    command that started it returns, the daemon has not always written its pid file yet.
    """
    wanted = b"\0".join(os.fsencode(arg) for arg in arguments) + b"\0"
    for pid in _pids():
        try:
            command_line = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if command_line.partition(b"\0")[2] == wanted and _session_of(pid) is not None:
            return pid
    return None


def session_members(session_id: int) -> list[int]:
    """Live (non-zombie) processes of one session, and its leader even before its setsid.

    A daemon that has just forked may not have called setsid yet; it must still count.
    """
    return [pid for pid in _pids() if _belongs(pid, session_id)]


def terminate_session(session_id: int, timeout: float) -> bool:
    """SIGTERM every process of the session and wait until none is left.

    Signalling only Dovecot's master is not enough: it exits after about a second, but an
    ``imap`` or ``imap-login`` process with a client still connected lingers for 10 s or
    more. Signalled directly, every process says BYE to its clients and is gone within
    ~0.1 s. The session is listed again each round for processes started meanwhile.
    Returns False if some are still alive at the deadline.
    """
    deadline = time.monotonic() + timeout
    signalled: set[int] = set()
    while members := session_members(session_id):
        if time.monotonic() >= deadline:
            return False
        fds: list[int] = []
        try:
            for pid in members:
                try:
                    fd = os.pidfd_open(pid)
                except ProcessLookupError:
                    continue
                fds.append(fd)
                # Re-checked through the pidfd's lifetime: the pid cannot be reused now.
                if pid not in signalled and _belongs(pid, session_id):
                    # It may exit between the check and the signal: then it is done.
                    with contextlib.suppress(ProcessLookupError):
                        signal.pidfd_send_signal(fd, signal.SIGTERM)
                    signalled.add(pid)
            _wait_all(fds, deadline)
        finally:
            for fd in fds:
                os.close(fd)
    return True


def _wait_all(pidfds: list[int], deadline: float) -> None:
    """Block until every pidfd reports its process exited, or the deadline passes."""
    pending = set(pidfds)
    while pending and (remaining := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select(list(pending), [], [], remaining)
        pending.difference_update(ready)


def _pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def _belongs(pid: int, session_id: int) -> bool:
    session = _session_of(pid)
    return session is not None and (session == session_id or pid == session_id)


def _session_of(pid: int) -> int | None:
    """The session id of a live process, or None if it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after "(comm)": state ppid pgrp session ...; comm itself may hold spaces.
    state, _ppid, _pgrp, session = stat[stat.rindex(")") + 2 :].split()[:4]
    return None if state == "Z" else int(session)
