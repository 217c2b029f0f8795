"""Writing messages straight into a Maildir, the fast way to give Dovecot a big mailbox.

APPEND goes through IMAP at a few hundred messages a second; plain files in ``cur/`` load
50,000 messages in seconds, and Dovecot indexes them on the next SELECT.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterable
from pathlib import Path

from tests.support.processes import RunUser, is_root

__all__ = ["MaildirWriter"]


class MaildirWriter:
    """Delivers files with unique, increasing Maildir names.

    Dovecot gives new files UIDs in filename order, so names of the form
    ``<seconds>.M<sequence>P<pid>.<host>`` keep UIDs in delivery order.
    """

    def __init__(self, owner: RunUser) -> None:
        self._owner = owner
        self._sequence = itertools.count(1)
        self._suffix = f"P{os.getpid()}.maild-testbed:2,"

    def make_home(self, home: Path) -> None:
        home.mkdir(exist_ok=True)
        self._owner.chown(home)

    def deliver(self, maildir: Path, messages: Iterable[bytes], folder: str) -> int:
        cur = self._folder(maildir, folder) / "cur"
        seconds = int(time.time())
        count = 0
        for message in messages:
            path = cur / f"{seconds}.M{next(self._sequence)}{self._suffix}"
            with path.open("xb") as file:
                file.write(message)
                if is_root():
                    os.fchown(file.fileno(), self._owner.uid, self._owner.gid)
            count += 1
        return count

    def _folder(self, maildir: Path, folder: str) -> Path:
        """The folder's directory, created Maildir++ style (``.Name``) if needed."""
        if folder.upper() == "INBOX":
            target = maildir
        else:
            # Non-ASCII and '&' would need modified UTF-7 on disk; '/' is not allowed.
            if not folder.isascii() or not folder.isprintable() or any(c in folder for c in "&/"):
                raise ValueError(f"unsupported folder name {folder!r}")
            target = maildir / f".{folder}"
        for directory in dict.fromkeys((maildir, target)):
            for sub in ("", "cur", "new", "tmp"):
                path = directory / sub
                if not path.is_dir():
                    path.mkdir(parents=True)
                    self._owner.chown(path)
        marker = target / "maildirfolder"
        if target != maildir and not marker.exists():
            marker.touch()
            self._owner.chown(marker)
        return target
