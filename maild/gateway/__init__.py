"""maild as the agents' SMTP submission server: every message checked before it is queued.

``limits`` and ``replies`` are pure; ``submission`` turns one DATA into an outbox row
or a refusal; ``server`` is the aiosmtpd edge; ``listeners`` runs one per mailbox.
"""
