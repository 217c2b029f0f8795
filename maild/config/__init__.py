"""maild's configuration: maild.toml, validated, with secrets resolved at load time.

``load_config`` is the only entry point that reads a file; the models are plain
frozen values that components receive as slices (a ``MailboxSettings``, say).
"""

__all__ = [
    "PRESETS",
    "DatabaseSettings",
    "ImapSettings",
    "Loader",
    "MailboxSettings",
    "MetricsSettings",
    "Preset",
    "Secret",
    "Security",
    "Settings",
    "SmtpSettings",
    "load_config",
]

from maild.config.load import Loader, load_config
from maild.config.secret import Secret
from maild.config.settings import (
    PRESETS,
    DatabaseSettings,
    ImapSettings,
    MailboxSettings,
    MetricsSettings,
    Preset,
    Security,
    Settings,
    SmtpSettings,
)
