"""``maild sla due``: when a reply is due, by a policy or by an allowance and opening hours.

It computes from its arguments alone (a shipped policy, a policy file, or hours and
windows), so it needs no configuration file: a support lead can check a deadline,
or a new policy file, on any machine. Mistakes in the arguments (a time without an
offset, an unknown zone, a malformed window, a policy or kind that does not exist)
are one line on stderr and exit code 2, like argparse's own usage errors; a policy
file with problems is reported like any configuration file, with exit code 1.
"""

from __future__ import annotations

__all__ = ["HANDLERS", "add_parsers"]

import argparse
import json
import math
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from maild.sla.business_time import WALL_CLOCK, BusinessCalendar, Window, sorted_hours
from maild.sla.policy import DEFAULT_KIND, ClockPolicy, SlaPolicy
from maild.sla.presets import load_policy_file, load_sla_preset
from maild.sla.schema import SLA_PRESETS
from maild.sla.state import Deadline, deadlines

_EX_USAGE = 2  # maild.cli.EX_USAGE, which this module cannot import (cli imports it)
_MAX_HOURS = 8760.0


class _UsageError(Exception):
    """An argument the user must correct; printed as one line, exit code 2."""


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sla`` and its actions to ``commands``."""
    sla = commands.add_parser(
        "sla",
        help="reply deadlines: when a reply is due",
        description="Reply deadlines (SLA) on the platform's and the team's clocks.",
    )
    actions = sla.add_subparsers(dest="sla_command", metavar="ACTION", required=True)
    due = actions.add_parser(
        "due",
        help="print when a reply to a message received at a given time is due",
        description="Print the due time of each clock (platform, and internal if the policy "
        "has one) as ISO 8601 in the offset of --received; with --hours, just the time.",
    )
    due.add_argument(
        "--received",
        required=True,
        metavar="ISO8601",
        help="when the customer's message arrived, with its UTC offset "
        "(e.g. 2026-03-02T20:00:00+08:00)",
    )
    how = due.add_mutually_exclusive_group(required=True)
    how.add_argument(
        "--policy",
        metavar="NAME|FILE",
        help=f"a shipped policy ({', '.join(SLA_PRESETS)}) or a policy file (*.toml)",
    )
    how.add_argument("--hours", metavar="H", help="an allowance in hours, such as 12 or 1.5")
    due.add_argument(
        "--kind",
        action="append",
        default=[],
        metavar="KIND",
        help="with --policy: the conversation's kind (urgent, customer-care, ...); repeat "
        "for several, the strictest allowance applies (default: the default allowance)",
    )
    due.add_argument(
        "--window",
        action="append",
        default=[],
        metavar="HH:MM-HH:MM",
        help="with --hours: opening hours every day; repeat or separate with commas for "
        "split shifts (default: all day, the wall clock)",
    )
    due.add_argument(
        "--tz",
        metavar="ZONE",
        help="with --window: its IANA time zone (default: --received's offset)",
    )
    due.add_argument("--json", action="store_true", help="print JSON for programs")


def _sla(args: argparse.Namespace) -> int:
    # ``due`` is the only action so far; argparse has already refused any other.
    try:
        received = _received(args.received)
        policy = _policy(args) if args.policy is not None else _hours_policy(args, received)
    except _UsageError as exc:
        print(f"maild sla due: {exc}", file=sys.stderr)
        return _EX_USAGE
    found = deadlines(received, args.kind, policy)
    if args.json:
        print(json.dumps(_as_dict(received, args, found), indent=2))
    elif args.hours is not None:
        print(_shown(found[0].due, received))
    else:
        for deadline in found:
            print(f"{deadline.clock}: {_shown(deadline.due, received)}")
    return 0


def _received(text: str) -> datetime:
    try:
        received = datetime.fromisoformat(text)
    except ValueError:
        raise _UsageError(
            f"--received: {text!r} is not an ISO 8601 time (e.g. 2026-03-02T20:00:00+08:00)"
        ) from None
    if received.tzinfo is None:
        raise _UsageError(f"--received: {text!r} has no UTC offset (add e.g. +08:00 or Z)")
    return received


def _policy(args: argparse.Namespace) -> SlaPolicy:
    if args.window or args.tz is not None:
        raise _UsageError("--window and --tz go with --hours; a policy has its own calendar")
    name: str = args.policy
    if name.endswith(".toml") or "/" in name:
        policy = load_policy_file(Path(name))
    else:
        try:
            policy = load_sla_preset(name)
        except ValueError as exc:
            raise _UsageError(f"--policy: {exc}") from None
    unknown = sorted(set(args.kind) - policy.kinds)
    if unknown:
        raise _UsageError(
            f"--kind: policy {policy.name} has no kind {unknown[0]!r}"
            f" (kinds: {', '.join(sorted(policy.kinds))})"
        )
    return policy


def _hours_policy(args: argparse.Namespace, received: datetime) -> SlaPolicy:
    if args.kind:
        raise _UsageError("--kind goes with --policy; --hours is the allowance itself")
    if args.tz is not None and not args.window:
        raise _UsageError("--tz is the zone of --window; give --window too")
    try:
        hours = float(args.hours)
    except ValueError:
        raise _UsageError(f"--hours: {args.hours!r} is not a number") from None
    if not math.isfinite(hours) or not 0 < hours <= _MAX_HOURS:
        raise _UsageError(f"--hours: must be more than 0 and at most {_MAX_HOURS:g}")
    # _received has refused a time without an offset, so received.tzinfo is set.
    zone = cast(tzinfo, received.tzinfo) if args.tz is None else _zone(args.tz)
    try:
        windows = sorted_hours(
            Window.parse(part) for text in args.window for part in text.split(",")
        )
    except ValueError as exc:
        raise _UsageError(f"--window: {exc}") from None
    calendar = BusinessCalendar.daily(windows, zone) if windows else WALL_CLOCK
    return SlaPolicy("hours", ClockPolicy({DEFAULT_KIND: timedelta(hours=hours)}, calendar))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _UsageError(
            f"--tz: {name!r} is not a time zone (expected an IANA name such as Asia/Shanghai)"
        ) from None


def _shown(due: datetime, received: datetime) -> str:
    """A due time as ISO 8601 in the offset of --received, so it reads like the input."""
    return due.astimezone(received.tzinfo).isoformat()


def _as_dict(
    received: datetime, args: argparse.Namespace, found: tuple[Deadline, ...]
) -> dict[str, object]:
    first = min(found, key=lambda deadline: deadline.due)
    return {
        "received": received.isoformat(),
        "policy": args.policy,
        "kinds": sorted(set(args.kind)),
        "first": first.clock,
        "clocks": [
            {
                "clock": deadline.clock,
                "kind": deadline.kind,
                "allowance_s": deadline.allowance.total_seconds(),
                "due": _shown(deadline.due, received),
            }
            for deadline in found
        ],
    }


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {"sla": _sla}
