"""From a parsed message to the facts thread resolution works with; pure.

One place decides who the customer of a message is: the sender of mail that came
in, the first recipient of the seller's own (a reply from the Sent folder is about
the buyer it went to, not about the seller).
"""

from __future__ import annotations

__all__ = ["conversation_facts"]

from maild.domain import ConversationFacts, Direction, ParsedMail
from maild.threads.customer import identify_customer
from maild.threads.orderids import extract_order_ids
from maild.threads.presets import Preset
from maild.threads.subject import subject_key

# The column is 255 characters; a longer subject still threads by its start.
_MAX_SUBJECT_KEY = 255


def conversation_facts(
    parsed: ParsedMail, direction: Direction, preset: Preset
) -> ConversationFacts:
    refs = extract_order_ids(parsed.subject, parsed.text, parsed.headers, preset)
    if direction == "out":
        name, address = parsed.to[0] if parsed.to else (None, None)
        customer = identify_customer(name or None, address, None, "", preset.customer)
    else:
        customer = identify_customer(
            parsed.from_name, parsed.from_addr, parsed.reply_to, parsed.text, preset.customer
        )
    return ConversationFacts(
        order_ids=refs.order_ids,
        sub_orders=tuple((sub.id, sub.parent) for sub in refs.sub_orders),
        from_quote=refs.from_quote,
        subject_key=subject_key(parsed.subject)[:_MAX_SUBJECT_KEY],
        customer_address=customer.address,
        customer_name=customer.name,
    )
