"""Conversations by order: the pure parts of threading.

Order-ID extraction by marketplace preset, subject normalisation for the header
fallback, and customer identity. No I/O here except reading preset files; thread
resolution against stored conversations builds on these.
"""

__all__ = [
    "Customer",
    "CustomerHints",
    "OrderPattern",
    "OrderRefs",
    "Preset",
    "SubOrder",
    "extract_order_ids",
    "identify_customer",
    "load_preset",
    "load_preset_file",
    "preset_names",
    "strip_subject",
    "subject_key",
]

from maild.threads.customer import Customer, identify_customer
from maild.threads.orderids import OrderRefs, SubOrder, extract_order_ids
from maild.threads.presets import (
    CustomerHints,
    OrderPattern,
    Preset,
    load_preset,
    load_preset_file,
    preset_names,
)
from maild.threads.subject import strip_subject, subject_key
