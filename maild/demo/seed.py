"""What the demo puts in its mailboxes: marketplace mail shipped with maild, plus real mail.

The marketplace messages (``mail/*.eml``, named after their mailbox) are the cases a
newcomer should see handled: English and Chinese after-sale questions with order IDs, a
multi-package order, a Customer Care relay, a pre-sale question, an auto-reply, a spam,
a phishing and an abusive message. Each arrived some hours ago (its Date header is set to
match), so the deadlines show every state: overdue, due soon, time left. The corpus messages
are background, as in a real inbox, and arrive as they are delivered.
"""

__all__ = ["MAILBOXES", "Seed", "SeedMessage", "seed_messages"]

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from importlib import resources
from pathlib import Path

from maild.demo.corpus import corpus_messages

# Mailbox name -> (marketplace preset, address). The corpus goes to the first one.
MAILBOXES = {
    "walmart-us": ("walmart", "support@shop.example"),
    "douyin-shop": ("douyin", "service@douyin-shop.example"),
}
# Hours since each shipped message arrived, by file name prefix. Walmart allows 48 hours:
# Emma's is overdue, Liam's due soon; Douyin counts 09:00-21:00 Shanghai time only.
AGES_H = {
    "walmart-01": 50.0,
    "walmart-02": 39.0,
    "walmart-03": 2.0,
    "walmart-04": 6.0,
    "walmart-05": 49.5,
    "walmart-06": 12.0,
    "walmart-07": 10.0,
    "walmart-08": 1.0,
    "douyin-09": 30.0,
    "douyin-10": 5.0,
    "douyin-11": 20.0,
}
_DATE = re.compile(rb"^Date:[^\n]*$", re.MULTILINE)


@dataclass(frozen=True)
class SeedMessage:
    raw: bytes
    # When the server received it (its INTERNALDATE); None: when it is delivered.
    received: datetime | None = None


@dataclass(frozen=True)
class Seed:
    messages: dict[str, list[SeedMessage]]
    marketplace: int
    corpus: int
    corpus_origin: str

    @property
    def total(self) -> int:
        return self.marketplace + self.corpus


def _arrived(raw: bytes, received: datetime) -> SeedMessage:
    date = b"Date: " + format_datetime(received).encode()
    return SeedMessage(_DATE.sub(lambda _: date, raw, count=1), received)


def seed_messages(corpora: Path | None, now: datetime) -> Seed:
    mail = resources.files(__package__) / "mail"
    messages: dict[str, list[SeedMessage]] = {name: [] for name in MAILBOXES}
    shipped = sorted((entry for entry in mail.iterdir() if entry.name.endswith(".eml")), key=str)
    for entry in shipped:
        name = next(n for n, (preset, _) in MAILBOXES.items() if entry.name.startswith(preset))
        age = timedelta(hours=AGES_H["-".join(entry.name.split("-")[:2])])
        messages[name].append(_arrived(entry.read_bytes(), now - age))
    background, origin = corpus_messages(corpora)
    first = next(iter(MAILBOXES))
    messages[first] = [SeedMessage(raw) for raw in background] + messages[first]
    return Seed(messages, len(shipped), len(background), origin)
