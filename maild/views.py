"""``maild threads`` and ``maild show`` output: a table for people, JSON for programs.

The JSON shape is documented in the README and only ever grows. Table columns are
measured in terminal cells, not characters: a Chinese subject takes two cells a
character, and padding by ``len`` would break every column after it.
"""

__all__ = [
    "conversation_as_json",
    "thread_as_dict",
    "thread_as_text",
    "threads_as_json",
    "threads_as_table",
]

import json
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from maild.domain import Verdict
from maild.report import iso
from maild.sla.state import SlaState
from maild.store.thread_views import ShownMessage, ThreadRow
from maild.threads.suborders import SubOrderMessage, SubOrderStatus, sub_order_statuses

# Each conversation's reply-deadline state by its id; None: its mailbox has no policy.
States = Mapping[int, SlaState | None]

_COLUMNS = (("MAILBOX", 14), ("ORDER", 21), ("CUSTOMER", 22), ("SUBJECT", 36), ("MSGS", 4))


def _sla(state: SlaState | None) -> dict[str, Any]:
    if state is None:
        return {"due": None, "sla_state": None, "time_left_s": None, "clocks": []}
    first = state.first
    return {
        "due": iso(state.due),
        "sla_state": state.state,
        "time_left_s": None if first is None else int(first.wall_left.total_seconds()),
        "clocks": [
            {
                "clock": c.deadline.clock,
                "kind": c.deadline.kind,
                "due": iso(c.deadline.due),
                "state": c.state,
                "business_left_s": int(c.business_left.total_seconds()),
                "wall_left_s": int(c.wall_left.total_seconds()),
            }
            for c in state.clocks
        ],
    }


def thread_as_dict(row: ThreadRow, state: SlaState | None = None) -> dict[str, Any]:
    return {
        "id": row.id,
        "mailbox": row.mailbox,
        "order_ids": list(row.order_ids),
        "sub_order_ids": list(row.sub_order_ids),
        "customer": row.customer,
        "customer_address": row.customer_address,
        "subject": row.subject,
        "messages": row.messages,
        "labels": list(row.labels),
        "state": row.state,
        "unread": row.unread,
        "waiting_since": iso(row.awaiting_since),
        "last_message_at": iso(row.last_message_at),
        "sub_orders": row.sub_orders,
        "after_sale_sub_orders": row.after_sale_sub_orders,
        **_sla(state),
    }


def threads_as_json(rows: Sequence[ThreadRow], states: States) -> str:
    return json.dumps(
        [thread_as_dict(row, states.get(row.id)) for row in rows], ensure_ascii=False, indent=2
    )


def _packages(messages: Sequence[ShownMessage]) -> tuple[SubOrderStatus, ...]:
    return sub_order_statuses(
        SubOrderMessage(
            m.at, "in" if m.direction == "in" else "out", bool(m.machine_kind), m.sub_orders
        )
        for m in messages
    )


def _verdict_line(verdict: Verdict | None) -> list[str]:
    """Why the classifier labelled a message, under its header; nothing for ham.

    A label reached through a known campaign or chosen by the arbiter can carry a low
    score, so the reason is said with it: a seller deciding whether to unflag needs both.
    """
    if verdict is None or verdict.label == "ham":
        return []
    score = verdict.scores.get(verdict.label)
    shown = "" if score is None else f" {score:.4f}"
    why = "".join(f", {reason}" for reason in verdict.reasons)
    return [f"   classifier: {verdict.label}{shown}{why} (model {verdict.model_version})"]


def conversation_as_json(
    row: ThreadRow, state: SlaState | None, messages: Sequence[ShownMessage]
) -> str:
    """``maild show --json``: the conversation as in ``threads --json``, and its messages."""
    return json.dumps(
        {
            "thread": thread_as_dict(row, state),
            "sub_orders": [
                {"id": s.id, "after_sales": s.after_sales, "messages": s.messages}
                for s in _packages(messages)
            ],
            "messages": [
                {
                    "ref": m.ref,
                    "direction": m.direction,
                    "at": iso(m.at),
                    "from": m.sender,
                    "subject": m.subject,
                    "labels": list(m.labels),
                    "machine_kind": m.machine_kind,
                    "verdict": None if m.verdict is None else m.verdict.as_dict(),
                    "text": m.text,
                }
                for m in messages
            ],
        },
        ensure_ascii=False,
        indent=2,
    )


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _cell(text: str, width: int) -> str:
    """``text`` cut and padded to ``width`` terminal cells."""
    text = " ".join(text.split())
    if _width(text) > width:
        cut = ""
        for char in text:
            if _width(cut + char) > width - 1:
                break
            cut += char
        text = cut + "…"
    return text + " " * (width - _width(text))


def _span(delta: timedelta) -> str:
    hours, rest = divmod(int(max(delta, timedelta(0)).total_seconds()), 3600)
    return f"{hours // 24}d{hours % 24}h" if hours >= 24 else f"{hours}h{rest // 60:02d}m"


def time_left(state: SlaState | None) -> str:
    """What the marketplace's indicator shows: the time left, or OVERDUE."""
    first = None if state is None else state.first
    if state is None or first is None:
        return "-"
    return "OVERDUE" if state.state == "overdue" else _span(first.wall_left)


def threads_as_table(rows: Sequence[ThreadRow], states: States, now: datetime) -> str:
    if not rows:
        return "no conversations"
    header = "  ".join(_cell(name, width) for name, width in _COLUMNS)
    lines = [f"{'ID':>6}  {header}  STATE            WAITING  LEFT"]
    for row in rows:
        orders = ", ".join(row.order_ids) or "-"
        cells = (row.mailbox, orders, row.customer or "-", row.subject or "-", str(row.messages))
        body = "  ".join(
            _cell(text, width) for text, (_, width) in zip(cells, _COLUMNS, strict=True)
        )
        unread = "*" if row.unread else " "
        waited = "-" if row.awaiting_since is None else _span(now - row.awaiting_since)
        left = time_left(states.get(row.id))
        lines.append(
            f"{row.id:>5}{unread}  {body}  {_cell(row.state, 16)} {_cell(waited, 8)} {left}"
        )
    return "\n".join(lines)


def thread_as_text(row: ThreadRow, state: SlaState | None, messages: Sequence[ShownMessage]) -> str:
    orders = ", ".join(row.order_ids) or "none"
    lines = [
        f"conversation {row.id} in {row.mailbox}: {row.subject or '(no subject)'}",
        f"customer: {row.customer or '-'}   orders: {orders}   state: {row.state}",
    ]
    for clock in () if state is None else state.clocks:
        due = iso(clock.deadline.due)
        left = "OVERDUE" if clock.state == "overdue" else f"{_span(clock.wall_left)} left"
        lines.append(f"{clock.deadline.clock} deadline: {due} ({clock.deadline.kind}, {left})")
    if row.sub_order_ids:
        lines.append(
            f"sub-orders: {', '.join(row.sub_order_ids)} "
            f"({row.after_sale_sub_orders} of {row.sub_orders} with an after-sales message)"
        )
    for package in _packages(messages):
        count = f"{package.messages} message{'s' if package.messages != 1 else ''}"
        lines.append(f"  {package.id}  after-sales: {_cell(package.after_sales, 9)} {count}")
    for message in messages:
        arrow = "<-" if message.direction == "in" else "->"
        marks = [*message.labels, *([message.machine_kind] if message.machine_kind else [])]
        tag = f"  [{', '.join(marks)}]" if marks else ""
        lines += [
            "",
            f"{arrow} {iso(message.at)}  {message.sender or '-'}{tag}  ref {message.ref}",
            *_verdict_line(message.verdict),
        ]
        lines += [f"   {line}" for line in message.text.strip().splitlines()]
    return "\n".join(lines)
