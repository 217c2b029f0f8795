"""Plain data shared by the classifier's parts: its input, its labels and its output.

The model never sees a parser's objects: a full message is read by the ingest parser's
pieces and mapped onto :class:`MessageText` (:mod:`maild.classify.mime`), a text-only
corpus record is mapped directly, so training and serving featurize exactly the same
fields, and features and model do not depend on how a message was parsed.
"""

from __future__ import annotations

__all__ = ["HAM", "LABELS", "Link", "MessageText", "Prediction"]

from collections.abc import Mapping
from dataclasses import dataclass, field

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


@dataclass(frozen=True, slots=True)
class Prediction:
    """The model's verdict on one message.

    ``scores`` holds the calibrated probability of every label, kept even when the
    label stays ``ham`` because no non-ham score reached its threshold: a reviewer can
    still sort borderline mail by score.
    """

    label: str
    scores: Mapping[str, float] = field(default_factory=dict)
    model_version: str = ""
    #: The label comes from the lower thresholds for a message close to a known spam or
    #: phishing campaign (:mod:`maild.classify.exemplars`): it says why a message is
    #: flagged with a score below the usual threshold.
    known_campaign: bool = False

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form for ``maild classify --json`` and the store."""
        return {
            "label": self.label,
            "scores": {k: round(v, 6) for k, v in self.scores.items()},
            "model_version": self.model_version,
            "known_campaign": self.known_campaign,
        }
