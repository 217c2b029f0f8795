"""Real peers for maild's tests: Dovecot, an SMTP sink, PostgreSQL, and realistic mail.

Each module starts or builds one thing; ``tests/conftest.py`` turns them into fixtures.
"""
