"""Replies that keep the marketplace rules: policy, outbox and SMTP."""
