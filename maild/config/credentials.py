"""Turn secret references in the parsed TOML into :class:`Secret` values.

This runs on the raw TOML tables, beside (not inside) pydantic validation, so that a
missing secret is reported together with every other mistake in the same table
instead of being hidden until the rest validates (CONVENTIONS 14). It also decides
which keys a login table needs, since that depends on ``auth``: a password, or for
XOAUTH2 either an access token kept fresh by another program or the refresh-token
flow. Problems name the source (variable, file, credential) and never contain a
value read from it.
"""

from __future__ import annotations

__all__ = [
    "SECRET_SLOTS",
    "LoginProblem",
    "SecretUnavailable",
    "read_secret",
    "refuse_literal_secrets",
    "resolve_login",
]

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from maild.config.secret import Secret

PASSWORD_SOURCES: Final = ("password_env", "password_file", "password_credential")
TOKEN_SOURCES: Final = ("token_env", "token_file", "token_credential")
CLIENT_SECRET_SOURCES: Final = (
    "client_secret_env",
    "client_secret_file",
    "client_secret_credential",
)
REFRESH_FLOW: Final = ("token_url", "client_id", "refresh_token_file")
OAUTH2_KEYS: Final = (*TOKEN_SOURCES, *REFRESH_FLOW, *CLIENT_SECRET_SOURCES, "scope")
SECRET_SLOTS: Final = ("password", "token", "client_secret", "refresh_token")
"""Keys the loader fills with resolved secrets; the file may never set them."""

_LITERALS: Final = {
    "password": ("a password", PASSWORD_SOURCES),
    "token": ("an access token", TOKEN_SOURCES),
    "client_secret": ("a client secret", CLIENT_SECRET_SOURCES),
    "refresh_token": ("a refresh token", ("refresh_token_file",)),
}
_EXAMPLES: Final = {"env": '"VARIABLE"', "file": '"/path/to/file"', "credential": '"NAME"'}
# A rotated refresh token is written back, which a variable or a systemd credential cannot be.
_UNWRITABLE: Final = ("refresh_token_env", "refresh_token_credential")
_MAX_BYTES: Final = 64 * 1024
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

Loc = tuple[str | int, ...]
LoginProblem = tuple[Loc, str]
"""Where (the key's TOML path) and what, before the loader adds file and line."""


class SecretUnavailable(Exception):
    """A secret source that cannot give a value; its text is safe to show."""


def refuse_literal_secrets(table: dict[str, object], where: Loc) -> list[LoginProblem]:
    """Drop literal secrets (``password = "..."``), reporting how to reference each instead."""
    found: list[LoginProblem] = []
    for slot, (noun, sources) in _LITERALS.items():
        if slot not in table:
            continue
        del table[slot]  # its value must not reach validation messages
        ways = [f"{key} = {_EXAMPLES[key.rsplit('_', 1)[1]]}" for key in sources]
        listed = ways[0] if len(ways) == 1 else f"{', '.join(ways[:-1])} or {ways[-1]}"
        systemd = " (systemd LoadCredential=)" if len(ways) > 1 else ""
        found.append(
            (
                (*where, slot),
                f"{noun} is never written in the config file; reference it instead with"
                f" {listed}{systemd}",
            )
        )
    return found


def resolve_login(
    table: dict[str, object],
    where: Loc,
    *,
    required: bool,
    environ: Mapping[str, str],
    base_dir: Path,
) -> tuple[dict[str, Secret], list[LoginProblem]]:
    """Resolve the secrets of one login table (imap or smtp), keyed by their slot.

    ``required`` is true for IMAP, which always logs in; SMTP may relay without
    login, but then it must have neither a username nor a secret source. Files that
    maild reads again at run time (``token_file``, ``refresh_token_file``) are made
    absolute in ``table``, relative to ``base_dir`` like every path in the file.
    """
    login = _Login(table, where, environ, base_dir)
    for key in _UNWRITABLE:
        if key in table:
            del table[key]
            login.problem(
                key,
                "maild writes the refresh token back when the provider rotates it, so it must"
                ' be in a file: use refresh_token_file = "/var/lib/maild/NAME.refresh-token"',
            )
    auth = table.get("auth", "password")
    if auth == "password":
        login.password(required)
    elif auth == "xoauth2":
        login.xoauth2(required)
    # Any other value: validation lists the allowed ones, and nothing here could be right.
    return login.secrets, login.problems


def read_secret(key: str, reference: str, environ: Mapping[str, str], base_dir: Path) -> Secret:
    """Read the secret that ``key`` (``token_file``, ``password_env``, ...) refers to.

    The loader uses this, and so does the token provider when a server has rejected
    a token and the source may hold a newer one. Raises SecretUnavailable.
    """
    kind = key.rsplit("_", 1)[1]
    noun = key.rsplit("_", 1)[0].replace("_", " ")
    if kind == "env":
        return _from_environ(reference, environ)
    if kind == "file":
        path = Path(reference)
        return _from_file(path if path.is_absolute() else base_dir / path, f"{noun} file")
    return _from_credential(reference, environ, key.rsplit("_", 1)[0])


class _Login:
    """The problems and secrets of one table, gathered while its keys are checked."""

    def __init__(
        self, table: dict[str, object], where: Loc, environ: Mapping[str, str], base_dir: Path
    ) -> None:
        self.table = table
        self.where = where
        self.environ = environ
        self.base_dir = base_dir
        self.secrets: dict[str, Secret] = {}
        self.problems: list[LoginProblem] = []

    def problem(self, key: str | None, message: str) -> None:
        self.problems.append(((*self.where, key) if key else self.where, message))

    def password(self, required: bool) -> None:
        for key in OAUTH2_KEYS:
            if key in self.table:
                self.problem(key, 'only used with auth = "xoauth2"')
        given = self._given(PASSWORD_SOURCES)
        if given is None:
            return
        if not given:
            if required or "username" in self.table:
                self.problem(
                    None,
                    "no password source: add password_env, password_file or"
                    " password_credential (a username needs a password)",
                )
            return
        if "username" not in self.table and not required:  # required tables: validation says so
            self.problem("username", f"missing required key 'username' (for {given})")
            return
        self._resolve("password", given)

    def xoauth2(self, required: bool) -> None:
        for key in PASSWORD_SOURCES:
            if key in self.table:
                self.problem(
                    key, 'auth = "xoauth2" logs in with an access token, not a password: remove it'
                )
        if "username" not in self.table and not required:
            self.problem("username", "missing required key 'username' (XOAUTH2 logs in as a user)")
        flow = [key for key in OAUTH2_KEYS if key in self.table and key not in TOKEN_SOURCES]
        token = self._given(TOKEN_SOURCES)
        if token is None:
            return
        if token and flow:
            self.problem(
                flow[0],
                "give either a token source (token_env, token_file or token_credential) or the"
                " refresh-token flow (token_url, client_id, refresh_token_file), not both",
            )
        elif token:
            self._resolve("token", token)
        elif flow:
            self._refresh_flow()
        else:
            self.problem(
                None,
                'auth = "xoauth2" needs an access token: either token_env, token_file or'
                " token_credential (kept fresh by another program), or token_url, client_id"
                " and refresh_token_file (maild refreshes it)",
            )

    def _refresh_flow(self) -> None:
        missing = [key for key in REFRESH_FLOW if key not in self.table]
        if missing:
            self.problem(
                None,
                "the refresh-token flow needs token_url, client_id and refresh_token_file;"
                f" missing: {', '.join(missing)}",
            )
        client_secret = self._given(CLIENT_SECRET_SOURCES)
        if client_secret:
            self._resolve("client_secret", client_secret)
        if "refresh_token_file" in self.table:
            self._resolve("refresh_token", "refresh_token_file")

    def _given(self, sources: tuple[str, ...]) -> str | None:
        """The one source key present, "" for none, None after reporting several."""
        given = [key for key in sources if key in self.table]
        if len(given) > 1:
            self.problem(given[1], f"give only one of {', '.join(given)}")
            return None
        return given[0] if given else ""

    def _resolve(self, slot: str, key: str) -> None:
        reference = self.table[key]
        if not isinstance(reference, str):
            return  # validation reports the type
        if key in {"token_file", "refresh_token_file"}:
            # Read again (and rewritten) at run time, when the working directory may differ.
            reference = str(self.base_dir / reference)
            self.table[key] = reference
        try:
            self.secrets[slot] = read_secret(key, reference, self.environ, self.base_dir)
        except SecretUnavailable as exc:
            self.problem(key, str(exc))


def _from_environ(name: str, environ: Mapping[str, str]) -> Secret:
    if not _ENV_NAME.fullmatch(name):
        # Not echoed: a value that is not a variable name may be the secret itself.
        raise SecretUnavailable("is not a valid environment variable name (letters, digits, _)")
    value = environ.get(name)
    if value is None:
        raise SecretUnavailable(f"environment variable {name} is not set")
    if not value:
        raise SecretUnavailable(f"environment variable {name} is empty")
    return Secret(value)


def _from_credential(name: str, environ: Mapping[str, str], prefix: str) -> Secret:
    if not name or "/" in name or name in {".", ".."}:
        raise SecretUnavailable("must be a plain file name inside $CREDENTIALS_DIRECTORY")
    directory = environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        raise SecretUnavailable(
            f"credential {name} cannot be read: $CREDENTIALS_DIRECTORY is not set (systemd"
            f" sets it for LoadCredential=; outside systemd use {prefix}_file or {prefix}_env)"
        )
    return _from_file(Path(directory) / name, f"credential {name}")


def _from_file(path: Path, what: str) -> Secret:
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_BYTES + 1)
    except OSError as exc:
        raise SecretUnavailable(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except ValueError:  # a NUL byte, which TOML strings may hold and paths may not
        raise SecretUnavailable(f"{what} path contains a NUL character") from None
    if len(data) > _MAX_BYTES:
        raise SecretUnavailable(f"{what} {path} is larger than {_MAX_BYTES // 1024} KiB")
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise SecretUnavailable(f"{what} {path} is not UTF-8 text") from None
    # Exactly one newline: `echo pw > file` adds it; more would be part of the secret.
    text = text.removesuffix("\n").removesuffix("\r") if text.endswith("\n") else text
    if not text:
        raise SecretUnavailable(f"{what} {path} is empty")
    return Secret(text)
