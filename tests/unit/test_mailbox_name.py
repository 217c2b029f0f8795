"""Folder names reach the server in modified UTF-7, quoted."""

import pytest

from maild.ingest.mailbox_name import parse_list_line, quote_mailbox, utf7_decode, utf7_encode


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


@pytest.mark.parametrize(
    ("wire", "name"),
    [
        ("INBOX", "INBOX"),
        ("Entw&APw-rfe", "Entwürfe"),
        ("&XfJT0ZAB-", "已发送"),
        ("Tom &- Jerry", "Tom & Jerry"),
        ("~peter/mail/&U,BTFw-/&ZeVnLIqe-", "~peter/mail/台北/日本語"),
        ("broken &!!!- name", "broken &!!!- name"),
    ],
)
def test_folder_names_from_the_server_are_decoded_from_modified_utf7(wire: str, name: str) -> None:
    assert utf7_decode(wire) == name


@pytest.mark.parametrize(
    ("line", "name", "attribute"),
    [
        (r'LIST (\HasNoChildren \Sent) "/" Sent', "Sent", "\\sent"),
        (r'(\HasNoChildren \Sent) "." Sent', "Sent", "\\sent"),
        (r'LIST (\Sent) "." "Sent Items"', "Sent Items", "\\sent"),
        (r'LIST (\HasNoChildren \Sent) "/" "[Gmail]/Sent Mail"', "[Gmail]/Sent Mail", "\\sent"),
        (r'LIST (\Sent) NIL "&XfJT0ZAB-"', "已发送", "\\sent"),
        (r'list (\SENT) "/" "say \"hi\""', 'say "hi"', "\\sent"),
        (r'LIST () "/" INBOX', "INBOX", None),
    ],
)
def test_list_lines_give_the_folder_name_and_its_special_use(
    line: str, name: str, attribute: str | None
) -> None:
    listed = parse_list_line(line)
    assert listed is not None
    assert listed.name == name
    assert (attribute in listed.attributes) if attribute else not listed.attributes


@pytest.mark.parametrize(
    "line", ["List completed (0.001 + 0.000 secs).", 'LIST (\\Sent) "/" {7}', "LIST broken"]
)
def test_lines_that_name_no_folder_are_skipped(line: str) -> None:
    assert parse_list_line(line) is None
