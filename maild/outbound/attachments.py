"""The attachment rule: only the file types and sizes a marketplace accepts.

The type is read from the file name's last extension, which is what the buyer's
client goes by ("invoice.pdf.exe" is an .exe); a declared content type that
contradicts the extension is refused too, since one of the two lies.
"""

from __future__ import annotations

__all__ = ["check_attachments"]

from typing import Final

from maild.outbound.model import Attachment, OutboundPolicy, Violation

_CONTENT_TYPES: Final = {
    "pdf": "application/pdf",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "txt": "text/plain",
}
# Senders that do not know the type say so with these; they contradict nothing.
_UNKNOWN_TYPES: Final = frozenset({"", "application/octet-stream"})


def _problem(attachment: Attachment, policy: OutboundPolicy) -> str | None:
    allowed = ", ".join(sorted(policy.attachment_types))
    name = attachment.name or ""
    extension = name.rsplit(".", 1)[1].lower() if "." in name else ""
    if extension not in policy.attachment_types:
        shown = f"{name!r}" if name else "an attachment without a file name"
        return f"{shown} is not a file type the marketplace accepts; send only {allowed}"
    declared = attachment.content_type.split(";", 1)[0].strip().lower()
    expected = _CONTENT_TYPES.get(extension)
    if expected is not None and declared not in _UNKNOWN_TYPES and declared != expected:
        return f"{name!r} is declared as {declared}, not {expected}; attach the real file"
    if attachment.size > policy.max_attachment_bytes:
        return (
            f"{name!r} is {attachment.size:,} bytes, more than the"
            f" {policy.max_attachment_bytes:,} allowed; make it smaller or leave it out"
        )
    return None


def check_attachments(
    attachments: tuple[Attachment, ...], policy: OutboundPolicy
) -> list[Violation]:
    """Attachments of a type or size the mailbox does not allow; spans are list indexes."""
    found: list[Violation] = []
    for index, attachment in enumerate(attachments):
        hint = _problem(attachment, policy)
        if hint is not None:
            span = (index, index + 1)
            found.append(Violation("attachment", span, attachment.name or "", hint, "attachments"))
    return found
