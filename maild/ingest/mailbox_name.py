"""Folder names on the IMAP wire: modified UTF-7 (RFC 3501 5.1.3), quoted.

Chinese sellers name folders in Chinese ("已发送"); sending those raw, or an
unquoted name with a space, would select the wrong folder or none.
"""

__all__ = ["quote_mailbox", "utf7_encode"]

import base64


def _encode_run(run: str) -> str:
    data = base64.b64encode(run.encode("utf-16-be")).decode("ascii").rstrip("=")
    return "&" + data.replace("/", ",") + "-"


def utf7_encode(name: str) -> str:
    out: list[str] = []
    pending: list[str] = []
    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            if pending:
                out.append(_encode_run("".join(pending)))
                pending = []
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    if pending:
        out.append(_encode_run("".join(pending)))
    return "".join(out)


def quote_mailbox(name: str) -> str:
    encoded = utf7_encode(name)
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'
