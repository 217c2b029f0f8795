"""Mailbox to database: IMAP transfer, landing and parsing."""
