"""Read maild.toml and report every problem in it at once.

The steps are kept apart so that one kind of mistake never hides another: TOML
syntax first (nothing else can be checked without it), then, on the same parsed
data, literal-password refusal, password resolution and model validation, whose
problems are merged, located by line, and raised together as one ConfigError.
"""

from __future__ import annotations

__all__ = ["Loader", "load_config", "read_toml_file"]

import ast
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

from pydantic import ValidationError

from maild.config.credentials import (
    SECRET_SLOTS,
    LoginProblem,
    refuse_literal_secrets,
    resolve_login,
)
from maild.config.gateway_check import gateway_login_tables, gateway_problems, is_agent_secret
from maild.config.locate import Loc, key_lines, line_of
from maild.config.problems import explain, format_path
from maild.config.secret import Secret
from maild.config.settings import Settings
from maild.errors import ConfigError, ConfigProblem

#: Reads the configuration again (the daemon on SIGHUP); what commands are handed.
Loader = Callable[[], Settings]

_TOML_WHERE: Final = re.compile(r" \(at (?:line (\d+), column (\d+)|end of document)\)$")
_DECLARED_TWICE: Final = re.compile(r"Cannot declare (\(.*\)) twice")


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Load and validate the configuration, resolving password references.

    ``environ`` defaults to ``os.environ``; tests pass a dict so they stay pure.
    Every failure, including an unreadable file, is raised as ConfigError.
    """
    env = os.environ if environ is None else environ
    shown = str(path)
    text, data = read_toml_file(path, shown)
    try:
        cwd = Path.cwd()
    except OSError as exc:  # the working directory was deleted under us
        raise ConfigError([ConfigProblem(shown, "", f"cannot resolve paths: {exc}")]) from None
    config_dir = (cwd / path).parent

    found: list[LoginProblem] = []
    secrets: list[Secret] = []
    for table, where, required in _login_tables(data):
        found += refuse_literal_secrets(table, where)
        resolved, problems = resolve_login(
            table, where, required=required, environ=env, base_dir=config_dir
        )
        found += problems
        table.update(resolved)
        secrets += resolved.values()
    _default_database_url(data, env, cwd)

    settings: Settings | None = None
    in_templates: list[ConfigProblem] = []
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        # Secret slots belong to the resolver, which has already said why one is empty.
        found += [explain(e) for e in exc.errors(include_url=False) if not _is_secret(e["loc"])]
    else:
        found += settings.sla_problems()
        # Here, not at the top: the template reader uses these settings (an import cycle).
        from maild.outbound.template_files import template_problems

        in_config, in_templates = template_problems(settings, config_dir)
        found += in_config + gateway_problems(settings, config_dir)
    if found or in_templates or settings is None:
        raise ConfigError(_located(found, text, shown, secrets) + in_templates)
    settings._source = cwd / path
    return settings


def read_toml_file(path: Path, shown: str) -> tuple[str, dict[str, object]]:
    """The text and the data of a TOML file, with arrays as tuples for strict models.

    Shared with the marketplace presets, so that their mistakes are reported exactly
    like maild.toml's; ``shown`` is how the file is named in a ConfigProblem.
    """
    text = _read(path, shown)
    return text, _parse(text, shown)


def _read(path: Path, shown: str) -> str:
    try:
        raw = path.read_bytes()
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError([ConfigProblem(shown, "", f"cannot read the file: {reason}")]) from None
    try:
        return raw.decode()
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        problem = ConfigProblem(shown, "", "not UTF-8 text (TOML files must be UTF-8)", line)
        raise ConfigError([problem]) from None


def _parse(text: str, shown: str) -> dict[str, object]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        where = _TOML_WHERE.search(message)
        line = text.count("\n") + 1
        column = ""
        if where is not None:
            message = message[: where.start()]
            if where.group(1):
                line, column = int(where.group(1)), f", column {where.group(2)}"
        problem = ConfigProblem(shown, "", f"invalid TOML{column}: {_reword(message)}", line)
        raise ConfigError([problem]) from None
    except RecursionError:  # tomllib recurses once per nesting level of arrays and tables
        raise ConfigError([ConfigProblem(shown, "", "invalid TOML: nested too deeply")]) from None
    return {key: _thaw(value) for key, value in data.items()}


def _reword(message: str) -> str:
    """Make tomllib's likeliest complaints (a repeated table, an open quote) readable."""
    if message == "Illegal character '\\n'":
        return "the line ends inside a string (a closing quote is missing?)"
    twice = _DECLARED_TWICE.fullmatch(message)
    if twice is None:
        return message
    try:
        key = ast.literal_eval(twice.group(1))
    except (ValueError, SyntaxError):
        return message
    if not isinstance(key, tuple):
        return message
    return f"table [{format_path(key)}] is defined twice (each table and mailbox name once)"


def _thaw(value: object) -> object:
    """Copy the TOML data so it may be edited, with arrays as tuples for strict models."""
    if isinstance(value, dict):
        return {key: _thaw(item) for key, item in value.items()}
    if isinstance(value, list):
        return tuple(_thaw(item) for item in value)
    return value


def _login_tables(data: dict[str, object]) -> list[tuple[dict[str, object], Loc, bool]]:
    """Every imap/smtp table, with its location and whether it must log in."""
    found: list[tuple[dict[str, object], Loc, bool]] = []
    mailboxes = data.get("mailboxes")
    if not isinstance(mailboxes, dict):
        return found
    for name, mailbox in mailboxes.items():
        if not isinstance(mailbox, dict):
            continue
        for kind, required in (("imap", True), ("smtp", False)):
            table = mailbox.get(kind)
            if isinstance(table, dict):
                found.append((table, ("mailboxes", name, kind), required))
        found += gateway_login_tables(mailbox, ("mailboxes", name, "gateway"))
    return found


def _is_secret(loc: tuple[str | int, ...]) -> bool:
    return (
        len(loc) == 4
        and loc[0] == "mailboxes"
        and loc[2] in {"imap", "smtp"}
        and loc[3] in SECRET_SLOTS
    ) or is_agent_secret(loc)


def _default_database_url(data: dict[str, object], environ: Mapping[str, str], cwd: Path) -> None:
    """Fill ``[database] url``: systemd's StateDirectory= if set, else the working directory."""
    database = data.setdefault("database", {})
    if not isinstance(database, dict) or "url" in database:
        return
    # With several StateDirectory= entries systemd joins them with ":"; the first is ours.
    state = environ.get("STATE_DIRECTORY", "").split(":")[0]
    directory = cwd / state if state else cwd
    database["url"] = f"sqlite:///{directory / 'maild.db'}"


def _located(
    found: list[LoginProblem], text: str, shown: str, secrets: list[Secret]
) -> list[ConfigProblem]:
    lines = key_lines(text)
    problems = [
        ConfigProblem(
            shown, _scrub(format_path(loc), secrets), _scrub(message, secrets), line_of(lines, loc)
        )
        for loc, message in found
    ]
    return sorted(problems, key=lambda p: (p.line is None, p.line or 0))


def _scrub(text: str, secrets: list[Secret]) -> str:
    # Defence in depth: messages echo only what the operator wrote, never a resolved
    # value; but should the file itself contain a password that a source resolves to
    # (pasted as a key or a value), it is masked before reaching a terminal or journal.
    for secret in secrets:
        text = text.replace(secret.reveal(), str(secret))
    return text
