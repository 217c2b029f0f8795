"""Turn a full RFC 822 message (as text) into the classifier's :class:`MessageText`.

Used for corpus records that carry ``raw`` and by ``maild classify FILE.eml`` until the
ingest parser maps its own ParsedMail. Pure: a string in, plain data out. Only the
From/Reply-To domains are read from the header; Received lines, dates, list headers
and the rest are dropped on purpose, because they identify the corpus a message came
from far better than they identify spam, and a model that learns them fails on
mailboxes it has never seen.
"""

from __future__ import annotations

__all__ = ["message_from_raw"]

import email
import email.policy
import logging
from email.message import EmailMessage, Message
from email.utils import getaddresses

from maild.classify.htmltext import html_to_text
from maild.classify.message import Link, MessageText

log = logging.getLogger(__name__)

_CHARSET_FIX = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030"}
_MAX_PART_CHARS = 200_000


def _domain(header_value: str) -> str:
    """Lowercased domain of the first address in a From/Reply-To value, or ""."""
    try:
        pairs = getaddresses([header_value])
    except (TypeError, ValueError, IndexError):
        return ""
    for _name, addr in pairs:
        if "@" in addr:
            return addr.rsplit("@", 1)[1].strip().strip(">").lower()
    return ""


def _header(msg: Message, name: str) -> str:
    """A header as text; malformed encoded words degrade to their raw form."""
    try:
        value = msg.get(name)
    except (TypeError, ValueError, IndexError, LookupError, AttributeError):
        return ""
    return "" if value is None else str(value)


def _part_text(part: Message) -> str:
    """Decode one leaf part, tolerating wrong or unknown charsets."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return str(part.get_payload())
    charset = (part.get_content_charset() or "utf-8").lower()
    charset = _CHARSET_FIX.get(charset, charset)
    try:
        return payload[:_MAX_PART_CHARS].decode(charset, errors="replace")
    except LookupError:
        return payload[:_MAX_PART_CHARS].decode("utf-8", errors="replace")


def _walk(msg: Message) -> tuple[list[str], list[str], list[str]]:
    """Split a message into plain parts, HTML parts and attachment types."""
    plain: list[str] = []
    html: list[str] = []
    attachments: list[str] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        filename = part.get_filename() if isinstance(part, EmailMessage) else None
        disposition = (part.get("Content-Disposition") or "").lower()
        if filename or "attachment" in disposition or not ctype.startswith("text/"):
            ext = filename.rsplit(".", 1)[-1].lower() if filename and "." in filename else ""
            attachments.append(ext or ctype)
        elif ctype == "text/html":
            html.append(_part_text(part))
        else:
            plain.append(_part_text(part))
    return plain, html, attachments


def message_from_raw(raw: str) -> MessageText:
    """Parse ``raw`` and keep subject, decoded body text, links and a few header facts.

    A text/plain part is preferred as the body; an HTML-only message is converted to
    text. Links always come from the HTML part when there is one, since the plain
    alternative of a phishing mail usually hides the real target.
    """
    msg = email.message_from_string(raw, policy=email.policy.default)
    try:
        plain, html, attachments = _walk(msg)
    except (TypeError, ValueError, LookupError, AttributeError, IndexError) as exc:
        log.debug("mime walk failed error=%s; using the raw body", type(exc).__name__)
        plain, html, attachments = [raw.split("\n\n", 1)[-1]], [], []
    links: tuple[Link, ...] = ()
    html_text = ""
    for part in html:
        text, part_links = html_to_text(part)
        html_text += text + "\n"
        links += part_links
    body = "\n".join(plain) if any(p.strip() for p in plain) else html_text
    return MessageText(
        subject=_header(msg, "Subject"),
        body=body,
        links=links,
        from_domain=_domain(_header(msg, "From")),
        reply_to_domain=_domain(_header(msg, "Reply-To")),
        attachment_types=tuple(attachments),
        has_html=bool(html),
    )
