"""``maild policy check``: would the marketplace accept this draft from this mailbox?

An agent (or a tool in front of the outbox) runs it before sending; it exits 0 for a
clean draft and 1 with every violation, so a script can refuse on the exit code and
a person can fix the draft from the hints. The mailbox's policy comes from the
configuration, so the check is the same one the outbox will make.
"""

from __future__ import annotations

__all__ = ["HANDLERS", "add_parsers", "violation_text"]

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from maild.errors import ParseError
from maild.outbound.drafts import DraftFormat, read_draft
from maild.outbound.mailbox_check import check_draft
from maild.outbound.model import Violation

if TYPE_CHECKING:
    from maild.config import Loader, Settings

_EX_OK, _EX_VIOLATIONS, _EX_USAGE = 0, 1, 2  # maild.cli's codes; cli imports this module


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``policy`` and its actions to ``commands``."""
    policy = commands.add_parser(
        "policy",
        help="check a draft reply against a mailbox's outbound rules",
        description="Outbound rules: no outside links, marketing or off-platform contacts, "
        "only allowed attachments (see README, Outbound policy).",
    )
    actions = policy.add_subparsers(dest="policy_action", metavar="ACTION", required=True)
    checker = actions.add_parser(
        "check",
        help="list what in a draft breaks the mailbox's rules",
        description="Check a draft (plain text, HTML or .eml) against the mailbox's "
        "outbound policy. Exit 0 when clean, 1 with each violation: rule, where, the "
        "offending text and how to fix it.",
    )
    checker.add_argument("--mailbox", required=True, metavar="NAME", help="configured mailbox")
    checker.add_argument(
        "file", nargs="?", default="-", metavar="FILE", help="the draft; - or none: stdin"
    )
    checker.add_argument(
        "--format",
        choices=["auto", "text", "html", "eml"],
        default="auto",
        help="what the draft is (auto: by extension .eml/.html/.htm, else text; "
        "stdin starting with '<' is HTML)",
    )
    checker.add_argument("--json", action="store_true", help="print a JSON list for programs")


_FORMATS: dict[str, DraftFormat] = {"text": "text", "html": "html", "eml": "eml"}


def _format(name: str, raw: bytes, chosen: str) -> DraftFormat:
    if chosen in _FORMATS:
        return _FORMATS[chosen]
    suffix = Path(name).suffix.lower()
    if suffix == ".eml":
        return "eml"
    if suffix in (".html", ".htm") or (name == "-" and raw.lstrip().startswith(b"<")):
        return "html"
    return "text"


def violation_text(violation: Violation) -> str:
    start, end = violation.span
    where = f"{violation.part} {start}-{end}"
    return f"{violation.rule}: {where}: {violation.text!r}\n    {violation.hint}"


def _check(settings: Settings, args: argparse.Namespace, _load: Loader) -> int:
    mailbox = settings.mailboxes.get(args.mailbox)
    if mailbox is None:
        known = ", ".join(settings.mailboxes) or "none"
        print(f"maild: no mailbox {args.mailbox!r} (configured: {known})", file=sys.stderr)
        return _EX_USAGE
    try:
        raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        print(f"maild: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return _EX_USAGE
    try:
        draft = read_draft(raw, _format(args.file, raw, args.format))
    except ParseError as exc:
        print(f"maild: {args.file} is not an e-mail message: {exc}", file=sys.stderr)
        return _EX_USAGE
    found = check_draft(settings, mailbox, draft)
    if args.json:
        objects = [
            {
                "rule": v.rule,
                "part": v.part,
                "start": v.span[0],
                "end": v.span[1],
                "text": v.text,
                "hint": v.hint,
            }
            for v in found
        ]
        print(json.dumps(objects, ensure_ascii=False, indent=2))
    elif found:
        print("\n".join(violation_text(v) for v in found))
        noun = "violation" if len(found) == 1 else "violations"
        print(f"{len(found)} {noun}: the marketplace would refuse this draft")
    else:
        print("ok: no violations")
    return _EX_VIOLATIONS if found else _EX_OK


HANDLERS: dict[str, Callable[[Settings, argparse.Namespace, Loader], int]] = {"policy": _check}
