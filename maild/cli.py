"""The ``maild`` command: parse arguments, load the config, map every outcome to an exit code.

This is the only module that configures logging and decides exit codes;
everything below it raises typed errors. Exit codes: 0 ok, 1 the command found
problems, 2 usage error, 3 run could not start, 78 (EX_CONFIG) the configuration
is unusable, 70 an internal error (a bug: please report it).

Commands come in two kinds: those that work on configured mailboxes and their
database get the loaded config (``_CONFIGURED``); those that work on files named on
the command line (the classifier's) run without one (``_STANDALONE``), so a missing
or broken maild.toml cannot stop them, unless their options ask for the database
(``maild train --include-feedback``).
"""

__all__ = ["entry", "main"]

import argparse
import asyncio
import gc
import json
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NoReturn

from maild import __version__, thread_commands
from maild.app import exposition, reprocess, run_forever, run_once
from maild.classify import commands as classify_commands
from maild.classify.artifact import ModelError
from maild.clock import utcnow
from maild.config import Loader, Settings, load_config
from maild.demo import commands as demo_commands
from maild.errors import ConfigError, MaildError, StoreError
from maild.ingest.pipeline import ALL_STATES
from maild.logs import RedactingFilter, configure_logging
from maild.outbound import commands as outbound_commands
from maild.outbound import outbox_commands
from maild.report import (
    outbox_summary,
    processing_summary,
    stats_as_dict,
    stats_as_text,
    sync_summary,
)
from maild.sla import commands as sla_commands
from maild.store import Store

log = logging.getLogger(__name__)

EX_OK, EX_PROBLEMS, EX_USAGE, EX_STARTUP, EX_SOFTWARE, EX_CONFIG = 0, 1, 2, 3, 70, 78
_SEARCHED = (Path("maild.toml"), Path("/etc/maild/maild.toml"))


def config_path(explicit: str | None, environ: Mapping[str, str]) -> Path:
    """--config, then $MAILD_CONFIG, then ./maild.toml, then /etc/maild/maild.toml."""
    if explicit:
        return Path(explicit)
    if environ.get("MAILD_CONFIG"):
        return Path(environ["MAILD_CONFIG"])
    for candidate in _SEARCHED:
        if candidate.exists():
            return candidate
    return _SEARCHED[-1]


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="maild",
        description="Customer-service mailboxes for marketplace sellers: keep every message, "
        "thread it by order, flag abuse, keep replies within the rules and the deadlines.",
    )
    parser.add_argument("--version", action="version", version=f"maild {__version__}")
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="configuration file (default: $MAILD_CONFIG, ./maild.toml, /etc/maild/maild.toml)",
    )
    parser.add_argument(
        "--log-level",
        default=os.environ.get("MAILD_LOG_LEVEL", "INFO"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        type=str.upper,
        help="how much to log on stderr (default: INFO, or $MAILD_LOG_LEVEL)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.add_parser(
        "check-config",
        help="validate the configuration and list every problem",
        description="Validate the configuration file and resolve its secret references. "
        "Prints every problem as FILE:LINE: dotted.path: message; exits 1 if there are any.",
    )
    run = commands.add_parser(
        "run",
        help="fetch mail from every configured mailbox into the database",
        description="Fetch new mail from every configured folder into the database. "
        "Without --once, repeat every poll interval until SIGTERM or SIGINT.",
    )
    run.add_argument(
        "--once", action="store_true", help="sync every folder once, print a summary, exit"
    )
    again = commands.add_parser(
        "reprocess",
        help="parse stored messages again (after an upgrade or a fix)",
        description="Re-run parsing over the raw messages in the database, without "
        "contacting any server. By default: quarantined and not yet processed messages.",
    )
    which = again.add_mutually_exclusive_group()
    which.add_argument(
        "--quarantined", action="store_true", help="quarantined messages only (the default)"
    )
    which.add_argument("--all", action="store_true", help="every stored message")
    again.add_argument("--mailbox", metavar="NAME", help="only this mailbox")
    stats = commands.add_parser(
        "stats",
        help="show message counts and sync state per mailbox and folder",
        description="Show message counts and each folder's sync position, last sync and "
        "last error, read from the database.",
    )
    stats.add_argument("--json", action="store_true", help="print JSON for programs")
    stats.add_argument(
        "--quarantined",
        action="store_true",
        help="also list the quarantined messages: where each is on the server and why",
    )
    commands.add_parser(
        "metrics",
        help="print the Prometheus metrics once (deadline gauges from the database)",
        description="Print the current exposition, as /metrics would serve it, for "
        "scripts and debugging. Counters only count in a running daemon and read 0 here.",
    )
    classify_commands.add_parsers(commands)
    thread_commands.add_parsers(commands)
    sla_commands.add_parsers(commands)
    outbound_commands.add_parsers(commands)
    outbox_commands.add_parsers(commands)
    demo_commands.add_parsers(commands)
    return parser


def _check_config(settings: Settings, _args: argparse.Namespace, _load: Loader) -> int:
    for warning in settings.warnings():
        print(f"warning: {warning}")
    count = len(settings.mailboxes)
    print(f"{settings.source}: ok ({count} mailbox{'es' if count != 1 else ''})")
    return EX_OK


def _open_store(settings: Settings) -> Store:
    store = Store.open(settings.database.url)
    addresses = {name: box.address for name, box in settings.mailboxes.items()}
    store.ensure_mailboxes(addresses, utcnow())
    return store


def _run(settings: Settings, args: argparse.Namespace, load: Loader) -> int:
    try:
        store = _open_store(settings)
    except StoreError as exc:
        print(f"maild: cannot start: {exc}", file=sys.stderr)
        return EX_STARTUP
    try:
        if not args.once:
            asyncio.run(run_forever(settings, store, utcnow, load))
            return EX_OK
        report = asyncio.run(run_once(settings, store, utcnow))
    except ModelError as exc:  # a configured model that does not load is a config mistake
        print(f"maild: cannot start: {exc}", file=sys.stderr)
        return EX_CONFIG
    finally:
        store.close()
    print(sync_summary(report.mailboxes))
    print(processing_summary(report.processing))
    print(outbox_summary(report.outbox))
    return EX_OK if report.ok else EX_PROBLEMS


def _reprocess(settings: Settings, args: argparse.Namespace, _load: Loader) -> int:
    if args.mailbox is not None and args.mailbox not in settings.mailboxes:
        print(f"maild: no mailbox {args.mailbox!r} in {settings.source}", file=sys.stderr)
        return EX_PROBLEMS
    states = ALL_STATES if args.all else ("landed", "quarantined")
    store = _open_store(settings)
    try:
        result = asyncio.run(
            reprocess(settings, store, utcnow, states=states, mailbox=args.mailbox)
        )
    finally:
        store.close()
    print(processing_summary(result))
    return EX_OK


def _metrics(settings: Settings, _args: argparse.Namespace, _load: Loader) -> int:
    store = _open_store(settings)
    try:
        sys.stdout.write(exposition(settings, store, utcnow).decode())
    finally:
        store.close()
    return EX_OK


def _stats(settings: Settings, args: argparse.Namespace, _load: Loader) -> int:
    store = _open_store(settings)
    try:
        stats = store.stats()
        held = store.quarantined() if args.quarantined else None
    finally:
        store.close()
    if args.json:
        print(json.dumps(stats_as_dict(stats, held), indent=2, ensure_ascii=False))
    else:
        print(stats_as_text(stats, held))
    return EX_OK


_CONFIGURED: dict[str, Callable[[Settings, argparse.Namespace, Loader], int]] = {
    "check-config": _check_config,
    "run": _run,
    "reprocess": _reprocess,
    "stats": _stats,
    "metrics": _metrics,
    **thread_commands.HANDLERS,
    **outbound_commands.HANDLERS,
    **outbox_commands.HANDLERS,
}
_STANDALONE: dict[str, Callable[[argparse.Namespace], int]] = {
    **classify_commands.HANDLERS,
    **sla_commands.HANDLERS,
    **demo_commands.HANDLERS,
}


def _loader(path: Path, redactor: RedactingFilter) -> Loader:
    """Load the config and teach the log redactor its secrets (at start and on reload)."""

    def load() -> Settings:
        settings = load_config(path)
        for mailbox in settings.mailboxes.values():
            for server in (mailbox.imap, mailbox.smtp, mailbox.gateway):
                for secret in server.secrets() if server is not None else ():
                    redactor.register(secret.reveal())
        return settings

    return load


def _load(load: Loader, command: str) -> Settings | int:
    try:
        return load()
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        noun = "problem" if len(exc.problems) == 1 else "problems"
        print(f"maild: {len(exc.problems)} configuration {noun}", file=sys.stderr)
        return EX_PROBLEMS if command == "check-config" else EX_CONFIG


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    redactor = configure_logging(args.log_level)
    try:
        with_database = classify_commands.wants_database(args)
        if args.command in _STANDALONE and not with_database:
            return _STANDALONE[args.command](args)
        load = _loader(config_path(args.config, os.environ), redactor)
        loaded = _load(load, args.command)
        if isinstance(loaded, int):
            return loaded
        handlers = classify_commands.WITH_DATABASE if with_database else _CONFIGURED
        return handlers[args.command](loaded, args, load)
    except KeyboardInterrupt:
        return 130
    except MaildError as exc:
        print(f"maild: {exc}", file=sys.stderr)
        return EX_PROBLEMS
    except Exception:
        log.exception("internal error command=%s", args.command)
        print(
            "maild: internal error (a bug in maild); the log above has the details",
            file=sys.stderr,
        )
        return EX_SOFTWARE


def entry() -> NoReturn:
    """The ``maild`` command and ``python -m maild``: :func:`main`, then exit at once.

    Everything maild made is frozen out of the garbage collector's sight first: the
    interpreter's last collection at exit would otherwise walk all of it (modules,
    tables, the model) to free memory the process is about to give back, 0.1-0.2 s of
    CPU after the work is done (a tenth of ``run --once``'s start and end on 10,000
    messages). Exit handlers (logging's flush, the worker pool's) still run; only
    objects in reference cycles are no longer collected, which at exit frees nothing.
    """
    code = main()
    gc.freeze()
    sys.exit(code)
