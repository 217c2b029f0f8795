"""What the demo puts in its mailboxes: marketplace mail shipped with maild, plus real mail.

The marketplace messages (``mail/*.eml``, named after their mailbox) are the cases a
newcomer should see handled: English and Chinese after-sale questions with order IDs, a
multi-package order, a Customer Care relay, a pre-sale question, an auto-reply, a spam,
a phishing and an abusive message. The corpus messages are background, as in a real inbox.
"""

__all__ = ["MAILBOXES", "Seed", "seed_messages"]

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from maild.demo.corpus import corpus_messages

# Mailbox name -> (marketplace preset, address). The corpus goes to the first one.
MAILBOXES = {
    "walmart-us": ("walmart", "support@shop.example"),
    "douyin-shop": ("douyin", "service@douyin-shop.example"),
}


@dataclass(frozen=True)
class Seed:
    messages: dict[str, list[bytes]]
    marketplace: int
    corpus: int
    corpus_origin: str

    @property
    def total(self) -> int:
        return self.marketplace + self.corpus


def seed_messages(corpora: Path | None) -> Seed:
    mail = resources.files(__package__) / "mail"
    messages: dict[str, list[bytes]] = {name: [] for name in MAILBOXES}
    shipped = sorted((entry for entry in mail.iterdir() if entry.name.endswith(".eml")), key=str)
    for entry in shipped:
        name = next(n for n, (preset, _) in MAILBOXES.items() if entry.name.startswith(preset))
        messages[name].append(entry.read_bytes())
    background, origin = corpus_messages(corpora)
    first = next(iter(MAILBOXES))
    messages[first] = background + messages[first]
    return Seed(messages, len(shipped), len(background), origin)
