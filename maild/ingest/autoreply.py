"""Machine mail: auto-replies, out-of-office notices, bounces, list and bulk mail,
marketplace relay notifications, and maild's own mail coming back.

None of these is a customer message or a seller reply: a reply clock must not start or
stop on one, and maild must never answer one (two auto-responders answering each other
make a mail loop). Getting it wrong costs unequal amounts. Taking a buyer's message for
machine mail hides it until the marketplace deadline has passed; taking machine mail for
a buyer's message costs an agent a glance. So a rule fires only on a mark that people's
mail clients do not set, and words in a subject count only in the shape that
auto-responders write them. The rules, in order; the first that matches decides:

1. ``own_loop``: the :data:`LOOP_HEADER` field, which maild sets on everything it sends,
   or a Message-ID whose domain is one of ``own_domains``.
2. ``bounce``: a ``multipart/report`` with ``report-type=delivery-status`` (RFC 3464); an
   ``X-Failed-Recipients`` field (Exim, Gmail); a MAILER-DAEMON sender; a bounce subject
   ("Undelivered Mail Returned to Sender", "Delivery Status Notification (Failure)",
   "Undeliverable:", "退信", "系统退信", ...) from a postmaster or with a null return path.
3. ``auto_reply``: any other ``multipart/report``, such as a read receipt (RFC 8098).
4. ``auto_reply`` or ``out_of_office``: ``Auto-Submitted`` with any value but ``no``
   (RFC 3834); ``X-Autoreply`` or ``X-Autorespond`` with any value but a no;
   ``Precedence: auto_reply``; an ``X-Loop`` naming a vacation program.
5. ``bulk``: ``Precedence`` bulk, junk or list; a ``List-Id`` or ``List-Unsubscribe``
   field (RFC 2919, RFC 2369).
6. ``relay_notification``: ``X-AMAZON-MAIL-RELAY-TYPE: notification`` (the only value
   seen in real mail; others are ignored), except from a buyer's relay address at
   ``marketplace.amazon.<tld>``: Amazon marks relayed buyer messages the same way.
7. ``auto_reply`` or ``out_of_office`` by subject: it starts with an auto-responder
   prefix and a colon ("Automatic reply:", "Out of Office AutoReply:", "Auto reply:",
   "自动回复：", "自动答复:"), or with a bare "Auto:" and has out-of-office words too
   ("AUTO: Jane is out of the office").
8. ``auto_reply`` or ``out_of_office``: a null return path ``<>``, which SMTP keeps for
   notifications (RFC 5321 section 4.5.5).

Auto-family mail is ``out_of_office`` when its subject has out-of-office words ("out of
the office", "on vacation", "休假", "不在办公室", "外出") or prefixes, or its auto-reply
header names a vacation, else ``auto_reply``; the split is informational. Deliberately
not rules:

* A prefix after "Re:", "Fwd:", "回复：": a person answering or forwarding an auto-reply
  ("Re: Automatic reply: ..." with a question) is a customer, and so is a subject that
  merely talks about one ("Auto reply didn't answer me", "自动回复没有解决问题").
* Out-of-office words without a machine mark, even as the whole subject: buyers write
  "休假期间发货吗" (do you ship over the holiday?), "外出旅行的背包" (a backpack for
  going out), "Out of office until Monday, hold my parcel", and people announce their
  own absence under the subject "Out of the office" (dozens in the Enron corpus).
* Body text: buyers write "I am out of the office" too.
* ``X-Auto-Response-Suppress``: it asks others not to auto-reply to this message; relays
  and CRMs set it on real mail, and help desks that filtered on it lost customer mail.
* A bounce a buyer forwards ("Fwd: Undelivered Mail ...", original attached): the buyer
  is asking why mail failed. Only the top-level header block is read.
* A reply whose In-Reply-To or References names a maild Message-ID: that is a buyer
  answering maild, not maild's mail looping.

The rules read mail that arrives. A copy of maild's own reply in the Sent folder carries
the same marks as ``own_loop`` mail but is the seller's reply; the caller decides that by
folder. Every reason is a fixed phrase: it never holds message text, addresses or IDs.
"""

__all__ = ["LOOP_HEADER", "MachineKind", "MachineMail", "detect"]

import functools
import re
import unicodedata
from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import StrEnum

from maild.domain import ParsedMail
from maild.ingest.params import media_type, parameters

#: Set by maild on every message it sends, so that its own mail is known when it returns.
LOOP_HEADER = "X-Maild-Loop"


class MachineKind(StrEnum):
    """Told apart for the people reading a conversation (a bounce means a reply did not
    arrive); to reply clocks every kind is the same: not a message."""

    AUTO_REPLY = "auto_reply"
    OUT_OF_OFFICE = "out_of_office"
    BOUNCE = "bounce"
    BULK = "bulk"
    RELAY_NOTIFICATION = "relay_notification"
    OWN_LOOP = "own_loop"


@dataclass(frozen=True, slots=True)
class MachineMail:
    """Why a message is machine mail; ``reason`` is short and safe to log."""

    kind: MachineKind
    reason: str


_NO = frozenset({"no", "false", "0", "off", "none"})
_AUTO_SUBMITTED = frozenset({"auto-generated", "auto-replied", "auto-notified"})
_TOKEN = re.compile(r"[a-z0-9_-]+")
_NULL_PATH = re.compile(r"<\s*>")
_DAEMON = frozenset({"mailer-daemon", "mailer_daemon", "mailerdaemon"})
_BOUNCE_SUBJECT = re.compile(
    r"undelivered mail|delivery status notification|mail delivery failed|undeliverable"
    r"|returned mail|failure notice|delivery failure|delivery has failed"
    r"|退信|投递失败|发送失败|无法投递"
)
_BUYER_RELAY = re.compile(r"(?!(?:do-?not-?reply|no-?reply)@)[^@]+@marketplace\.amazon\.[a-z.]+")
_VACATION_LOOP = re.compile(r"vacation|auto-?repl|auto-?respon")
_OOO_PREFIX = re.compile(
    r"(?:out of (?:the )?office(?: auto ?reply)?|automatic reply|自动答复|自動回覆)\s*:"
)
_AUTO_PREFIX = re.compile(
    r"(?:auto[- ]?reply|auto[- ]?response|automatic response|自动回复|自動回復|自动应答)\s*:"
)
_BARE_AUTO_PREFIX = re.compile(r"auto\s*:")
_OOO_WORDS = re.compile(
    r"out of (?:the )?office|on (?:vacation|holiday|annual leave)|休假|不在办公室|外出|年假"
)

Rule = Callable[[ParsedMail], MachineMail | None]


def detect(parsed: ParsedMail, *, own_domains: Collection[str] = ()) -> MachineMail | None:
    """Classify one parsed message: None for mail a person wrote, else what machine sent it.

    ``own_domains`` are the domains maild writes into the Message-IDs it makes.
    """
    own = _own_loop(parsed, {domain.strip().strip(".").lower() for domain in own_domains})
    if own is not None:
        return own
    for rule in _RULES:
        found = rule(parsed)
        if found is not None:
            return found
    return None


def _own_loop(parsed: ParsedMail, own_domains: Collection[str]) -> MachineMail | None:
    if LOOP_HEADER.lower() in parsed.headers:
        return MachineMail(MachineKind.OWN_LOOP, "maild loop header")
    if parsed.message_id and "@" in parsed.message_id:
        domain = parsed.message_id.rpartition("@")[2].rstrip(">").strip().lower()
        if domain in own_domains:
            return MachineMail(MachineKind.OWN_LOOP, "Message-ID in a maild domain")
    return None


def _bounce(parsed: ParsedMail) -> MachineMail | None:
    if _report_type(parsed) == "delivery-status":
        return MachineMail(MachineKind.BOUNCE, "delivery status report")
    if _header(parsed, "x-failed-recipients"):
        return MachineMail(MachineKind.BOUNCE, "X-Failed-Recipients field")
    local = (parsed.from_addr or "").rpartition("@")[0]
    if local in _DAEMON:
        return MachineMail(MachineKind.BOUNCE, "sent by MAILER-DAEMON")
    if _BOUNCE_SUBJECT.search(_subject(parsed)):
        if local == "postmaster":
            return MachineMail(MachineKind.BOUNCE, "bounce subject from postmaster")
        if _null_path(parsed):
            return MachineMail(MachineKind.BOUNCE, "bounce subject with null return path")
    return None


def _report(parsed: ParsedMail) -> MachineMail | None:
    if _report_type(parsed) is not None:
        return MachineMail(MachineKind.AUTO_REPLY, "machine report (multipart/report)")
    return None


def _auto_headers(parsed: ParsedMail) -> MachineMail | None:
    submitted = _header(parsed, "auto-submitted")
    keyword = _token(submitted)
    if keyword and keyword != "no":
        shown = keyword if keyword in _AUTO_SUBMITTED else "other value"
        return _auto(parsed, f"Auto-Submitted: {shown}", submitted)
    for name, label in (("x-autoreply", "X-Autoreply"), ("x-autorespond", "X-Autorespond")):
        value = _header(parsed, name)
        if value and _token(value) not in _NO:
            return _auto(parsed, f"{label} field", value)
    if _token(_header(parsed, "precedence")) == "auto_reply":
        return _auto(parsed, "Precedence: auto_reply", "")
    loop = _header(parsed, "x-loop")
    if _VACATION_LOOP.search(loop.lower()):
        return _auto(parsed, "X-Loop names a vacation program", loop)
    return None


def _bulk(parsed: ParsedMail) -> MachineMail | None:
    precedence = _token(_header(parsed, "precedence"))
    if precedence in ("bulk", "junk", "list"):
        return MachineMail(MachineKind.BULK, f"Precedence: {precedence}")
    if _header(parsed, "list-id"):
        return MachineMail(MachineKind.BULK, "List-Id field")
    if _header(parsed, "list-unsubscribe"):
        return MachineMail(MachineKind.BULK, "List-Unsubscribe field")
    return None


def _relay(parsed: ParsedMail) -> MachineMail | None:
    if _token(_header(parsed, "x-amazon-mail-relay-type")) != "notification":
        return None
    if _BUYER_RELAY.fullmatch(parsed.from_addr or ""):
        return None
    return MachineMail(MachineKind.RELAY_NOTIFICATION, "Amazon relay notification")


def _subject_rule(parsed: ParsedMail) -> MachineMail | None:
    subject = _subject(parsed)
    if _OOO_PREFIX.match(subject):
        return MachineMail(MachineKind.OUT_OF_OFFICE, "out-of-office subject prefix")
    if _AUTO_PREFIX.match(subject):
        return _auto(parsed, "auto-reply subject prefix", "")
    if _BARE_AUTO_PREFIX.match(subject) and _OOO_WORDS.search(subject):
        return MachineMail(MachineKind.OUT_OF_OFFICE, "Auto: subject with out-of-office words")
    return None


def _null_path_rule(parsed: ParsedMail) -> MachineMail | None:
    return _auto(parsed, "null return path", "") if _null_path(parsed) else None


_RULES: tuple[Rule, ...] = (
    _bounce,
    _report,
    _auto_headers,
    _bulk,
    _relay,
    _subject_rule,
    _null_path_rule,
)


def _auto(parsed: ParsedMail, reason: str, marker: str) -> MachineMail:
    """An auto-reply, told apart from an out-of-office one by its subject or marker."""
    subject = _subject(parsed)
    if "vacation" in marker.lower() or _OOO_PREFIX.match(subject) or _OOO_WORDS.search(subject):
        return MachineMail(MachineKind.OUT_OF_OFFICE, reason)
    return MachineMail(MachineKind.AUTO_REPLY, reason)


def _header(parsed: ParsedMail, name: str) -> str:
    return parsed.headers.get(name, "").strip()


def _token(value: str) -> str:
    """The leading keyword of a structured value: ``auto-replied; owner=...`` -> auto-replied."""
    found = _TOKEN.match(value.strip().lower())
    return found.group(0) if found else ""


def _subject(parsed: ParsedMail) -> str:
    return _folded_subject(parsed.subject)


@functools.lru_cache(maxsize=8)
def _folded_subject(subject: str) -> str:
    """The subject folded for matching: full-width colons and letters to ASCII, any case.

    Cached: the bounce, subject and auto-reply rules each read one message's subject.
    """
    folded = unicodedata.normalize("NFKC", subject).casefold()
    return " ".join(folded.split())


def _report_type(parsed: ParsedMail) -> str | None:
    """The report-type of a top-level multipart/report ("" when it names none), else None.

    Only the top level counts: a report attached to a buyer's message is what the buyer
    forwards, not what sent the message."""
    return _report_type_of(_header(parsed, "content-type"))


@functools.lru_cache(maxsize=8)
def _report_type_of(content_type: str) -> str | None:
    """Cached: the bounce and report rules both ask about one message's Content-Type."""
    value = content_type.encode("utf-8", "replace")
    if media_type(value, "") != "multipart/report":
        return None
    param = parameters(value).get("report-type")
    return param.value.decode("ascii", "replace").strip().lower() if param else ""


def _null_path(parsed: ParsedMail) -> bool:
    return _NULL_PATH.fullmatch(_header(parsed, "return-path")) is not None
