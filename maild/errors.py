"""One error root for maild, so the CLI can map every failure to an exit code.

Adapters translate library errors into these with ``raise ... from exc``; nothing
above an adapter catches a library's own exception types.
"""

__all__ = [
    "ConfigError",
    "ConfigProblem",
    "MaildError",
    "ParseError",
    "PermanentError",
    "StoreError",
    "TransientError",
]

from dataclasses import dataclass


class MaildError(Exception):
    """Root of every error maild raises on purpose."""


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong with a configuration file, located for the operator."""

    file: str
    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(MaildError):
    """The configuration cannot be used; carries every problem found, not just the first."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class StoreError(MaildError):
    """The database cannot be opened, upgraded or written."""


class ParseError(MaildError):
    """A message cannot be parsed; the caller quarantines it and goes on."""


class TransientError(MaildError):
    """A failure worth retrying later (network down, server busy, 4xx)."""


class PermanentError(MaildError):
    """A failure that retrying will not fix (credentials refused, 5xx)."""
