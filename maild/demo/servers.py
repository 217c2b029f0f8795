"""The demo's mail servers: the test bed's throwaway Dovecot and recording SMTP sink.

They are the same servers maild's own tests run against (``tests/support``), which is
why ``maild demo`` runs from a source checkout (``scripts/demo`` sets one up): an
installed maild has no test bed and says so instead of failing halfway.
"""

__all__ = ["DemoServers", "start_servers"]

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from maild.errors import MaildError

if TYPE_CHECKING:
    from tests.support.dovecot import DovecotServer, ImapAccount
    from tests.support.smtp import RecordingSMTPServer


class DemoUnavailable(MaildError):
    """The demo cannot run here; the message says what to do."""


@dataclass(frozen=True)
class DemoServers:
    dovecot: "DovecotServer"
    smtp: "RecordingSMTPServer"

    def account(self) -> "ImapAccount":
        return self.dovecot.new_account()


@contextlib.contextmanager
def start_servers() -> Iterator[DemoServers]:
    """Dovecot and the SMTP sink on free loopback ports; both gone when the block ends."""
    try:
        from tests.support.dovecot import DovecotError, DovecotServer
        from tests.support.smtp import threaded_smtp_server
    except ImportError as exc:
        raise DemoUnavailable(
            "maild demo runs from a source checkout of maild (it borrows the test bed's "
            "servers from tests/support): clone the repository and run scripts/demo"
        ) from exc
    dovecot = DovecotServer()
    try:
        try:
            dovecot.start()
        except DovecotError as exc:
            raise DemoUnavailable(f"{exc}\n(scripts/demo installs Dovecot)") from exc
        with threaded_smtp_server() as smtp:
            yield DemoServers(dovecot, smtp)
    finally:
        dovecot.cleanup()
