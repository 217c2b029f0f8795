"""Logging set-up for maild: one call from the CLI, key=value lines on stderr.

Modules only name loggers. The redaction filter is the last line of defence
for secrets: every resolved secret is registered with it, and any record whose
text contains one has it masked, whatever code path produced the record.
"""

__all__ = ["RedactingFilter", "configure_logging"]

import logging
import os
import re
import sys

_MASK = "********"
_PATTERNS = (
    re.compile(r"(?i)\b(password|passwd|secret|token|authorization)(\s*[=:]\s*)(\S+)"),
    re.compile(r"(?i)\b(AUTH(?:ENTICATE)?\s+(?:PLAIN|LOGIN|XOAUTH2))(\s+)(\S+)"),
)


class RedactingFilter(logging.Filter):
    """Masks registered secret values and credential-looking fields in every record."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def register(self, secret: str) -> None:
        # Very short values would mask ordinary words; they are weak secrets anyway.
        if len(secret) >= 4:
            self._secrets.add(secret)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, _MASK)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}{_MASK}", text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def configure_logging(level: str = "INFO") -> RedactingFilter:
    """Send maild's logs to stderr; journald adds its own timestamps, so skip ours there.

    Returns the redaction filter so the caller can register the secrets it resolves.
    """
    redactor = RedactingFilter()
    handler = logging.StreamHandler(sys.stderr)
    under_journald = "JOURNAL_STREAM" in os.environ
    fmt = "level=%(levelname)s logger=%(name)s %(message)s"
    handler.setFormatter(logging.Formatter(fmt if under_journald else "%(asctime)s " + fmt))
    handler.addFilter(redactor)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Alembic narrates every schema check at INFO; maild logs the upgrades that happen.
    logging.getLogger("alembic").setLevel(max(root.level, logging.WARNING))
    # aiosmtpd (the gateway) narrates every session, and warns about an attribute of its
    # own at every login; maild.gateway logs logins, refusals and queued messages.
    logging.getLogger("mail.log").setLevel(max(root.level, logging.ERROR))
    return redactor
