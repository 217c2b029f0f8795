"""Entry point for ``python -m maild``."""

from maild.cli import entry

entry()
