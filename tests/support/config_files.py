"""maild.toml files for tests and benchmarks that point maild at the test Dovecot.

One writer for every test that runs maild for real, so the TOML shape a test
relies on is stated once and follows the config when it changes.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.dovecot import ImapAccount

__all__ = ["mailbox_table", "password_variable", "write_config"]

_MAILBOX = """\
[mailboxes.{name}]
address = "support@shop.example"
preset = "{preset}"
{keys}
[mailboxes.{name}.imap]
host = "{host}"
port = {port}
security = "{security}"
username = "{username}"
password_env = "{env}"
folders = {folders}
fetch_batch = {batch}
"""


def password_variable(name: str) -> str:
    """The environment variable a mailbox table reads its password from."""
    return f"MAILD_TEST_{name.upper().replace('-', '_')}_PASSWORD"


def mailbox_table(
    account: ImapAccount,
    name: str = "shop",
    *,
    security: str = "none",
    folders: tuple[str, ...] = ("INBOX",),
    fetch_batch: int = 250,
    preset: str = "generic",
    keys: str = "",
) -> str:
    """A mailbox table; ``keys`` are more of the mailbox's own lines, e.g. its model."""
    return _MAILBOX.format(
        name=name,
        preset=preset,
        keys=keys,
        host=account.host,
        port=account.tls_port if security == "tls" else account.port,
        security=security,
        username=account.username,
        env=password_variable(name),
        folders=json.dumps(list(folders)),
        batch=fetch_batch,
    )


def write_config(directory: Path, *mailboxes: str, database_url: str | None = None) -> Path:
    """maild.toml in ``directory``, with its SQLite database beside it unless
    ``database_url`` names another."""
    path = directory / "maild.toml"
    url = database_url or f"sqlite:///{directory / 'maild.db'}"
    database = f'[database]\nurl = "{url}"\n\n'
    path.write_text(database + "\n".join(mailboxes))
    return path
