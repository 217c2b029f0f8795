"""Turn password references in the parsed TOML into :class:`Secret` values.

This runs on the raw TOML tables, beside (not inside) pydantic validation, so that a
missing secret is reported together with every other mistake in the same table
instead of being hidden until the rest validates (CONVENTIONS 14). Problems name the
source (variable, file, credential) and never contain a value read from it.
"""

from __future__ import annotations

__all__ = ["SOURCES", "LoginProblem", "refuse_literal_password", "resolve_password"]

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from maild.config.secret import Secret

SOURCES: Final = ("password_env", "password_file", "password_credential")
_MAX_BYTES: Final = 64 * 1024
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

Loc = tuple[str | int, ...]
LoginProblem = tuple[Loc, str]
"""Where (the key's TOML path) and what, before the loader adds file and line."""


class _Unresolved(Exception):
    """A password source that cannot give a value; its text is safe to show."""


def refuse_literal_password(table: dict[str, object], where: Loc) -> list[LoginProblem]:
    """Drop a literal ``password`` key, reporting how to reference it instead."""
    if "password" not in table:
        return []
    del table["password"]  # its value must not reach validation messages
    return [
        (
            (*where, "password"),
            "a password is never written in the config file; reference it instead with"
            ' password_env = "VARIABLE", password_file = "/path/to/file" or'
            ' password_credential = "NAME" (systemd LoadCredential=)',
        )
    ]


def resolve_password(
    table: Mapping[str, object],
    where: Loc,
    *,
    required: bool,
    environ: Mapping[str, str],
    base_dir: Path,
) -> tuple[Secret | None, list[LoginProblem]]:
    """Resolve the one password source of a login table (imap or smtp).

    ``required`` is true for IMAP, which always logs in; SMTP may relay without
    login, but then it must have neither a username nor a password source.
    """
    given = [key for key in SOURCES if key in table]
    if len(given) > 1:
        return None, [((*where, given[1]), f"give only one of {', '.join(given)}")]
    if not given:
        if required or "username" in table:
            return None, [
                (
                    where,
                    "no password source: add password_env, password_file or"
                    " password_credential (a username needs a password)",
                )
            ]
        return None, []
    key = given[0]
    if "username" not in table and not required:  # required tables: validation says so
        return None, [((*where, "username"), f"missing required key 'username' (for {key})")]
    reference = table[key]
    if not isinstance(reference, str):
        return None, []  # validation reports the type
    try:
        return _read(key, reference, environ, base_dir), []
    except _Unresolved as exc:
        return None, [((*where, key), str(exc))]


def _read(key: str, reference: str, environ: Mapping[str, str], base_dir: Path) -> Secret:
    if key == "password_env":
        return _from_environ(reference, environ)
    if key == "password_file":
        path = Path(reference)
        return _from_file(path if path.is_absolute() else base_dir / path, "password file")
    return _from_credential(reference, environ)


def _from_environ(name: str, environ: Mapping[str, str]) -> Secret:
    if not _ENV_NAME.fullmatch(name):
        # Not echoed: a value that is not a variable name may be the password itself.
        raise _Unresolved("is not a valid environment variable name (letters, digits, _)")
    value = environ.get(name)
    if value is None:
        raise _Unresolved(f"environment variable {name} is not set")
    if not value:
        raise _Unresolved(f"environment variable {name} is empty")
    return Secret(value)


def _from_credential(name: str, environ: Mapping[str, str]) -> Secret:
    if not name or "/" in name or name in {".", ".."}:
        raise _Unresolved("must be a plain file name inside $CREDENTIALS_DIRECTORY")
    directory = environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        raise _Unresolved(
            f"credential {name} cannot be read: $CREDENTIALS_DIRECTORY is not set (systemd"
            " sets it for LoadCredential=; outside systemd use password_file or password_env)"
        )
    return _from_file(Path(directory) / name, f"credential {name}")


def _from_file(path: Path, what: str) -> Secret:
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_BYTES + 1)
    except OSError as exc:
        raise _Unresolved(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except ValueError:  # a NUL byte, which TOML strings may hold and paths may not
        raise _Unresolved(f"{what} path contains a NUL character") from None
    if len(data) > _MAX_BYTES:
        raise _Unresolved(f"{what} {path} is larger than {_MAX_BYTES // 1024} KiB")
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise _Unresolved(f"{what} {path} is not UTF-8 text") from None
    # Exactly one newline: `echo pw > file` adds it; more would be part of the password.
    text = text.removesuffix("\n").removesuffix("\r") if text.endswith("\n") else text
    if not text:
        raise _Unresolved(f"{what} {path} is empty")
    return Secret(text)
