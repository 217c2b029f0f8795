"""maild as the agents' SMTP submission server: every message checked before it is queued.

``limits`` (login and sending windows) and ``replies`` (what a client is told) are
pure; ``submission`` turns one message into an outbox row or a refusal; ``server``
is the aiosmtpd edge of one mailbox; ``listeners`` starts, reloads and stops them
all with the daemon; ``metrics`` are the gateway's own series.
"""
