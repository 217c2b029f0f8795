"""Setting \\Seen on the server, for mailboxes that ask maild to (``imap.mark_seen``).

The only write maild makes to a mailbox. A folder whose UIDVALIDITY changed since
the messages were stored is left alone: its UIDs would name other messages.
"""

__all__ = ["mark_seen_on_server"]

import logging

from maild.config.settings import MailboxSettings
from maild.ingest.imap import ImapClient
from maild.ingest.mailbox import endpoint_for
from maild.ingest.sync import Clock
from maild.oauth import token_provider

log = logging.getLogger(__name__)


async def mark_seen_on_server(
    name: str,
    settings: MailboxSettings,
    locations: dict[str, tuple[int, list[int]]],
    clock: Clock,
) -> int:
    """Mark the given messages seen; how many were. Errors are raised as MaildError."""
    tokens = token_provider(name, settings.imap, clock)
    marked = 0
    async with ImapClient(endpoint_for(settings.imap, tokens)) as imap:
        for folder, (uidvalidity, uids) in locations.items():
            selected = await imap.select(folder)
            if selected.uidvalidity != uidvalidity:
                log.warning(
                    "not marking seen: uidvalidity changed mailbox=%s folder=%s", name, folder
                )
                continue
            await imap.mark_seen(uids)
            marked += len(uids)
    return marked
