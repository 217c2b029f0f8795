"""maild: marketplace customer-service mailboxes, kept, threaded and on time."""

__all__ = ["__version__"]

__version__ = "0.1.0"
