"""Stats and sync summaries as text for people and as JSON-ready dicts for programs.

Pure: the CLI hands in what the store and the sync returned and prints the result.
"""

__all__ = ["iso", "processing_summary", "stats_as_dict", "stats_as_text", "sync_summary"]

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from maild.ingest.mailbox import MailboxSyncReport
from maild.ingest.pipeline import ProcessReport
from maild.outbound.sender import SendReport
from maild.store import QuarantinedMessage, Stats


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


def stats_as_dict(
    stats: Stats, quarantined: Sequence[QuarantinedMessage] | None = None
) -> dict[str, Any]:
    """The documented ``maild stats --json`` shape; keys are only ever added, never renamed.

    ``quarantined_messages`` is there when the messages were asked for (``--quarantined``).
    """
    shape: dict[str, Any] = {
        "messages": stats.messages,
        "quarantined": stats.quarantined,
        "threads": stats.threads,
        "mailboxes": {
            name: {
                "messages": box.messages,
                "quarantined": box.quarantined,
                "outbound": box.outbound,
                "machine": box.machine,
                "folders": {
                    f.folder: {
                        "uidvalidity": f.uidvalidity,
                        "last_uid": f.last_uid,
                        "last_sync": iso(f.last_sync),
                        "last_error": f.last_error,
                        "uidvalidity_changes": f.uidvalidity_changes,
                    }
                    for f in box.folders
                },
            }
            for name, box in stats.mailboxes.items()
        },
    }
    if quarantined is not None:
        shape["quarantined_messages"] = _held(quarantined)
    return shape


def _held(quarantined: Sequence[QuarantinedMessage]) -> list[dict[str, Any]]:
    return [
        {
            "mailbox": q.mailbox,
            "folder": q.folder,
            "uidvalidity": q.uidvalidity,
            "uid": q.uid,
            "message_id": q.message_id,
            "reason": q.reason,
            "landed_at": iso(q.landed_at),
        }
        for q in quarantined
    ]


def stats_as_text(stats: Stats, quarantined: Sequence[QuarantinedMessage] | None = None) -> str:
    lines = [
        f"messages {stats.messages}   quarantined {stats.quarantined}   threads {stats.threads}"
    ]
    for name, box in stats.mailboxes.items():
        lines.append(
            f"{name}: {box.messages} messages ({box.outbound} sent, {box.machine} machine mail),"
            f" {box.quarantined} quarantined"
        )
        for f in box.folders:
            synced = iso(f.last_sync) or "never"
            state = f"ERROR {f.last_error}" if f.last_error else "ok"
            lines.append(f"  {f.folder}: last uid {f.last_uid}, last sync {synced}, {state}")
    if quarantined is not None:
        lines.append(f"quarantined messages ({len(quarantined)}, newest first):")
        lines.extend(
            f"  {q.mailbox}/{q.folder or '-'} uid {q.uid if q.uid is not None else '-'}"
            f" {q.message_id}: {q.reason}"
            for q in quarantined
        )
    return "\n".join(lines)


def sync_summary(reports: Iterable[MailboxSyncReport]) -> str:
    lines = []
    for report in reports:
        stored = sum(f.stored for f in report.folders)
        fetched = sum(f.fetched for f in report.folders)
        status = "ok" if report.ok else f"FAILED ({len(report.errors)} folder(s))"
        lines.append(f"{report.mailbox}: {status}, fetched {fetched}, stored {stored} new")
        lines.extend(f"  {folder}: {error}" for folder, error in report.errors.items())
    return "\n".join(lines) if lines else "no mailboxes configured"


def processing_summary(report: ProcessReport) -> str:
    return f"processed {report.processed}, quarantined {report.quarantined}"


def outbox_summary(report: SendReport) -> str:
    line = (
        f"outbox: sent {report.sent}, retrying {report.retrying}, failed {report.failed},"
        f" recovered {report.recovered}, copied to Sent {report.copied}"
    )
    return "\n".join([line, *(f"  {error}" for error in report.errors)])
