"""The ``maild demo`` command: its options, and the exit codes of its outcomes."""

from __future__ import annotations

__all__ = ["HANDLERS", "add_parsers"]

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from maild.demo.run import default_corpora, run_demo
from maild.demo.servers import DemoUnavailable

EX_OK, EX_PROBLEMS, EX_INTERRUPTED = 0, 1, 130


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser(
        "demo",
        help="see maild work on a throwaway mail server (needs a source checkout: scripts/demo)",
        description="Start a private Dovecot and an SMTP sink on loopback, seed them with "
        "marketplace and real mail, run the daemon and show the conversations, flagged "
        "messages, a blocked and a delivered reply and the metrics. Ctrl-C cleans up.",
    )
    demo.add_argument(
        "--dir", type=Path, metavar="PATH", help="keep the demo's files here (default: a temp dir)"
    )
    demo.add_argument(
        "--corpora",
        type=Path,
        metavar="PATH",
        default=default_corpora(),
        help="the shared corpora folder (default: ../shared/corpora beside the checkout, "
        "else a sample shipped with maild)",
    )
    keep = demo.add_mutually_exclusive_group()
    keep.add_argument(
        "--keep",
        action="store_true",
        default=None,
        help="keep everything running until Ctrl-C (default on a terminal)",
    )
    keep.add_argument("--no-keep", dest="keep", action="store_false", help="exit after the tour")


def _demo(args: argparse.Namespace) -> int:
    keep = sys.stdin.isatty() if args.keep is None else args.keep
    # The tour is the output; the servers' chatter (aiosmtpd logs every SMTP line) is not.
    root = logging.getLogger()
    root.setLevel(max(root.level, logging.WARNING))
    try:
        run_demo(args.dir, args.corpora, keep)
    except DemoUnavailable as exc:
        print(f"maild demo: {exc}", file=sys.stderr)
        return EX_PROBLEMS
    except KeyboardInterrupt:
        print("\nmaild demo: stopped; the daemon and the servers are gone", file=sys.stderr)
        return EX_INTERRUPTED
    return EX_OK


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {"demo": _demo}
