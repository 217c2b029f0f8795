"""The SMTP replies the gateway gives, as text a mail client shows the agent.

A policy refusal is ``550 5.7.1`` with one line per violation: the rule, the offending
text and where it is (the span), and how to fix it, e.g. ``external-link: external
link "bit.ly/3xK9" (the text, characters 13-23) is not allowed; bit.ly is a link
shortener, ...``. Lines are cut to fit SMTP's 512-octet reply line and kept
to a handful, so a draft with fifty phone numbers still gets a readable answer. The
offending text is quoted as written, Chinese included: the listener speaks SMTPUTF8,
and clients show UTF-8 replies as they are. Pure.
"""

from __future__ import annotations

__all__ = ["policy_refusal", "sender_allowed", "sender_refusal"]

from collections.abc import Iterable, Sequence
from typing import Final

from maild.outbound.model import Violation

MAX_LINES: Final = 8
_TEXT_CHARS: Final = 60
_HINT_CHARS: Final = 200
_WHAT: Final = {
    "external-link": "external link",
    "contact-info": "contact detail",
    "marketing": "marketing text",
    "attachment": "attachment",
}
_PARTS: Final = {
    "text": "the text",
    "subject": "the subject",
    "html-text": "the HTML's text",
    "html": "the HTML source",
}


def _clean(text: str, limit: int) -> str:
    flat = " ".join(text.replace('"', "'").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _where(violation: Violation) -> str:
    """The span, as a person counts: characters from 1, attachments from 1."""
    start, end = violation.span
    if violation.part == "attachments":
        return f"attachment {start + 1}"
    return f"{_PARTS[violation.part]}, characters {start + 1}-{end}"


def _line(violation: Violation) -> str:
    what = _WHAT.get(violation.rule, violation.rule)
    shown = _clean(violation.text, _TEXT_CHARS)
    hint = _clean(violation.hint, _HINT_CHARS)
    return f'{violation.rule}: {what} "{shown}" ({_where(violation)}) is not allowed; {hint}'


def _reply(code: str, status: str, lines: Sequence[str]) -> str:
    """A multi-line SMTP reply: ``code-status text`` lines, the last ``code status text``."""
    return "\r\n".join(
        f"{code}{' ' if i == len(lines) - 1 else '-'}{status} {line}"
        for i, line in enumerate(lines)
    )


def policy_refusal(violations: Sequence[Violation]) -> str:
    """``550 5.7.1``: what the outbound policy refused, and how to fix it."""
    lines = [
        f"Refused by the mailbox's outbound rules ({len(violations)} problem"
        f"{'s' if len(violations) != 1 else ''}); fix the draft and send again:"
    ]
    lines += [_line(v) for v in violations[:MAX_LINES]]
    if len(violations) > MAX_LINES:
        lines.append(f"... and {len(violations) - MAX_LINES} more of the same kinds")
    return _reply("550", "5.7.1", lines)


def sender_allowed(address: str, allowed: Iterable[str]) -> bool:
    return address.strip().lower() in {a.lower() for a in allowed}


def sender_refusal(address: str, allowed: Sequence[str]) -> str:
    """``550 5.7.1`` for a sender address the agent may not use."""
    shown = _clean(address, 80) or "<>"
    return (
        f"550 5.7.1 You may not send as {shown}; use {' or '.join(allowed[:4])}"
        " (ask the operator to add the address to your agent's senders)"
    )
