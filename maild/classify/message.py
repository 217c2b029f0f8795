"""Plain data shared by the classifier's parts: its input and its labels (its output
is :class:`maild.domain.Verdict`, which the ingest pipeline stores as it is).

The model never sees a parser's objects: a full message is read by the ingest parser's
pieces and mapped onto :class:`MessageText` (:mod:`maild.classify.mime`), a text-only
corpus record is mapped directly, so training and serving featurize exactly the same
fields, and features and model do not depend on how a message was parsed.
"""

from __future__ import annotations

__all__ = ["HAM", "LABELS", "Link", "MessageText"]

from dataclasses import dataclass

HAM = "ham"
#: Label order is part of the model format: score columns follow it.
LABELS: tuple[str, ...] = ("ham", "spam", "fraud", "inappropriate")


@dataclass(frozen=True, slots=True)
class Link:
    """One hyperlink: where it points and the text a reader sees for it.

    ``text`` is empty for a bare URL in plain text. Both are kept because a phishing
    mail typically shows one address and links to another.
    """

    href: str
    text: str = ""


@dataclass(frozen=True, slots=True)
class MessageText:
    """What the classifier reads of one message, already decoded to text.

    ``body`` is plain text (an HTML body is converted to text by whoever builds this).
    Domains are lowercased registrable-ish host names, or "" when unknown: the model
    compares them with each other and with link domains but never learns them as
    tokens, so that one corpus's mail domains cannot become a spam signal.
    """

    subject: str = ""
    body: str = ""
    links: tuple[Link, ...] = ()
    from_domain: str = ""
    reply_to_domain: str = ""
    attachment_types: tuple[str, ...] = ()
    has_html: bool = False
    lang: str = ""
