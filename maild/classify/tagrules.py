"""The ``[tags]`` table of a marketplace preset: what marks Customer Care, urgency, tickets.

Like the rest of a preset it is data, validated strictly when the preset is read
(unknown keys, empty words, a word listed as both urgent and not, duplicate ticket
categories are refused with the file's line). The validated models are frozen and
hashable, so :mod:`maild.classify.tags` uses them as they are and compiles each set
of rules once. Every key is optional: a preset without ``[tags]`` still gets the
built-in urgent vocabulary, and no Customer Care or ticket rules.
"""

from __future__ import annotations

__all__ = ["CustomerCareMarkers", "NoticeMarkers", "TagRules", "TicketCategory", "TicketRules"]

import re
from typing import Annotated, Final

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from maild.config.settings import DomainName

_SENDER: Final = re.compile(r"[^@\s<>\"]{1,64}@[a-z0-9](?:[a-z0-9.-]{0,250}[a-z0-9])?\.[a-z]{2,63}")
_HEADER_NAME: Final = re.compile(r"[!-9;-~]{1,76}")
_CATEGORY: Final = re.compile(r"[a-z][a-z0-9-]{0,30}")


def _word(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _sender(value: str) -> str:
    if not _SENDER.fullmatch(value.lower()):
        raise ValueError(f"{value!r} is not an e-mail address (write it as name@domain)")
    return value.lower()


def _header(value: str) -> str:
    name = value.partition(":")[0].strip()
    if not _HEADER_NAME.fullmatch(name):
        raise ValueError(f"{value!r}: expected a header name, or 'Name: text'")
    return value


def _category(value: str) -> str:
    if not _CATEGORY.fullmatch(value):
        raise ValueError(f"{value!r}: a category name is lower-case letters, digits and '-'")
    return value


Word = Annotated[str, StringConstraints(min_length=1, max_length=40), AfterValidator(_word)]
Sender = Annotated[str, AfterValidator(_sender)]
HeaderMarker = Annotated[str, AfterValidator(_header)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class CustomerCareMarkers(_Strict):
    """What shows that the marketplace's own support staff wrote, on a buyer's behalf.

    Any one is enough: a sender address, a sender domain (or its subdomains), a From
    display name (whole, any case), a subject containing a marker, or a header that
    is present (``"Name"``) or contains a text (``"Name: text"``).
    """

    senders: tuple[Sender, ...] = ()
    domains: tuple[DomainName, ...] = ()
    names: tuple[Word, ...] = ()
    subjects: tuple[Word, ...] = ()
    headers: tuple[HeaderMarker, ...] = ()


class NoticeMarkers(_Strict):
    """What tells one kind of platform notice (a hand-off, a ticket closed, an urgent ticket).

    A notice comes from the platform: when ``senders`` or ``domains`` are given, the
    sender must be one of them (a buyer writing "ticket closed" closes nothing). Then
    one marker is enough: a subject containing one of ``subjects``, the sender's own
    text (not the quoted history) containing one of ``text``, or a header that is
    present (``"Name"``) or contains a text (``"Name: text"``). Markers are plain
    phrases, read without the negation rules of urgent words: a platform's notice
    states what happened.
    """

    senders: tuple[Sender, ...] = ()
    domains: tuple[DomainName, ...] = ()
    subjects: tuple[Word, ...] = ()
    text: tuple[Word, ...] = ()
    headers: tuple[HeaderMarker, ...] = ()

    @model_validator(mode="after")
    def _has_marker(self) -> NoticeMarkers:
        if (self.senders or self.domains) and not (self.subjects or self.text or self.headers):
            raise ValueError("a sender alone is no notice: add subjects, text or headers")
        return self


class TicketCategory(_Strict):
    """One category of a marketplace's service tickets; the tag is ``ticket:<name>``."""

    name: Annotated[str, AfterValidator(_category)]
    keywords: Annotated[tuple[Word, ...], Field(min_length=1)]


class TicketRules(_Strict):
    """How to tell a ticket (a marker in its subject or text) and find its category.

    Categories are tried in the order written; the first with a keyword in the
    ticket's type field (a line starting with one of ``type_labels``), else in the
    subject, else in the text, names the ticket. So a specific category ("exchange")
    is written before a broad one ("after-sales") that shares its words.

    ``urgent`` marks the platform's urgent (2-hour) tickets, tagged ``urgent``;
    ``closed`` the platform's notice that a ticket is closed, tagged ``ticket-closed``.
    """

    markers: tuple[Word, ...] = ()
    type_labels: tuple[Word, ...] = ()
    categories: tuple[TicketCategory, ...] = ()
    urgent: NoticeMarkers = NoticeMarkers()
    closed: NoticeMarkers = NoticeMarkers()

    @model_validator(mode="after")
    def _consistent(self) -> TicketRules:
        if self.categories and not self.markers:
            raise ValueError("ticket categories need at least one marker to tell a ticket")
        names = [category.name for category in self.categories]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"ticket category {twice[0]!r} is defined twice")
        return self


class TagRules(_Strict):
    """A preset's ``[tags]`` table.

    ``urgent_terms`` and ``urgent_exceptions`` are *added* to maild's built-in English
    and Chinese lists (see :mod:`maild.classify.tags`), so a preset cannot lose the
    safety and legal vocabulary by adding one word of its own. An exception is a
    phrase that cancels an urgent word inside it ("Fire TV", "工商银行").
    """

    urgent_terms: tuple[Word, ...] = ()
    urgent_exceptions: tuple[Word, ...] = ()
    customer_care: CustomerCareMarkers = CustomerCareMarkers()
    tickets: TicketRules = TicketRules()
    # The platform's own service taking a conversation over: tagged ``escalated`` and
    # ``handed-off``, and off the seller's clock from then on.
    handoff: NoticeMarkers = NoticeMarkers()

    @model_validator(mode="after")
    def _not_both(self) -> TagRules:
        both = {w.casefold() for w in self.urgent_terms} & {
            w.casefold() for w in self.urgent_exceptions
        }
        if both:
            raise ValueError(f"{min(both)!r} is listed as urgent and as an exception")
        return self
