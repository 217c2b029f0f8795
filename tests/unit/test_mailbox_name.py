"""Folder names reach the server in modified UTF-7, quoted."""

import pytest

from maild.ingest.mailbox_name import quote_mailbox, utf7_encode


@pytest.mark.parametrize(
    ("name", "wire"),
    [
        ("INBOX", "INBOX"),
        ("Entwürfe", "Entw&APw-rfe"),
        ("已发送", "&XfJT0ZAB-"),
        ("Tom & Jerry", "Tom &- Jerry"),
        ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
    ],
)
def test_folder_names_are_encoded_in_modified_utf7(name: str, wire: str) -> None:
    assert utf7_encode(name) == wire


def test_quoting_escapes_quotes_and_backslashes() -> None:
    assert quote_mailbox('Sent "old" \\ box') == '"Sent \\"old\\" \\\\ box"'
