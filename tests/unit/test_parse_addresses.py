"""The plain-address shortcut answers exactly what mail-parser answers, and only for
the forms it knows; anything else still goes to mail-parser."""

from __future__ import annotations

import base64

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mailparser.utils import get_addresses

from maild.ingest import addresses, words
from maild.ingest.notes import Notes

_ATEXT = st.text(alphabet="abcXYZ019!#$%&'*+/^_`{|}~-", min_size=1, max_size=6)
_LABEL = st.from_regex(r"\A[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,3}[a-zA-Z0-9])?\Z")
_ADDRESS = st.builds(
    lambda local, labels: f"{local}@{'.'.join(labels)}",
    st.lists(_ATEXT, min_size=1, max_size=3).map(".".join),
    st.lists(_LABEL, min_size=2, max_size=3),
)
_NAME = st.one_of(
    st.lists(_ATEXT, min_size=1, max_size=3).map(" ".join),
    st.text(alphabet="abc XY,.;:<>@()[]!#'-=?", max_size=10).map(lambda s: f'"{s}"'),
)
_SPACE = st.sampled_from(["", " ", "  ", "\t"])
_PLAIN = st.one_of(
    st.builds(lambda a, b, c: a + b + c, _SPACE, _ADDRESS, _SPACE),
    st.builds(
        lambda a, name, b, address, c: f"{a}{name}{b}<{address}>{c}",
        _SPACE,
        _NAME,
        _SPACE,
        _ADDRESS,
        _SPACE,
    ),
)


def by_mail_parser(value: str) -> list[tuple[str, str]]:
    found = get_addresses(value, defects=[], decode_names=True)
    return [("" if name == address else name, address) for name, address in found if address]


@settings(max_examples=2000, suppress_health_check=[HealthCheck.too_slow])
@given(_PLAIN)
def test_a_plain_address_reads_as_mail_parser_reads_it(value: str) -> None:
    plain = addresses._PLAIN_MAILBOX.fullmatch(value)
    assert plain is not None or "=?" in value
    assert addresses._mailboxes(value.encode(), "to", Notes()) == by_mail_parser(value)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=12), _SPACE, _ADDRESS, st.sampled_from(["utf-8", "gb18030"]))
def test_an_encoded_name_before_an_address_reads_as_mail_parser_reads_it(
    name: str, space: str, address: str, charset: str
) -> None:
    try:
        word = base64.b64encode(name.encode(charset)).decode()
    except UnicodeEncodeError:
        return
    header = f"=?{charset}?b?{word}?={space}<{address}>".encode()
    normalised = words.for_address_parser(header, "from", Notes())
    assert addresses._mailboxes(header, "from", Notes()) == by_mail_parser(normalised)


@pytest.mark.parametrize(
    "value",
    [
        "a@b.example, c@d.example",
        "Smith, John <j@x.example>",
        '"王伟" <w@x.example>',
        "j@x.example (John)",
        "John <j@x.example",
        "Undisclosed recipients:;",
    ],
)
def test_other_forms_are_left_to_mail_parser(value: str) -> None:
    assert addresses._PLAIN_MAILBOX.fullmatch(value) is None


@pytest.mark.parametrize("separator", [b",", b";"])
def test_item_cap_counts_both_separators_on_either_side_of_the_shortcut(separator: bytes) -> None:
    limit = addresses._MAX_ITEMS
    below = b"a@b.example" + b"," * (limit // 2) + separator * (limit - 1 - limit // 2)
    notes = Notes()
    assert addresses._bounded("to", below, notes) == below
    assert notes.reasons == []
    at = below + separator + b"c@d.example"
    assert addresses._bounded("to", at, notes) == below
    assert notes.reasons != []


@pytest.mark.parametrize(
    "value",
    [
        b"Seller Support <support@seller.example>",
        b"a@b.example, Group: c@d.example;, (x) e@f.example",
        b"bell\x07<g@h.example>",
        b"," * addresses._CACHED_ADDRESS_BYTES,
        b"," * (addresses._CACHED_ADDRESS_BYTES + 1),
        b"=?utf-8?q?N?= <i@j.example>",
        "Zoë <k@l.example>".encode(),
    ],
    ids=["plain", "mail-parser", "control", "longest-kept", "cut", "encoded", "8-bit"],
)
def test_a_header_reads_the_same_kept_or_read_afresh(value: bytes) -> None:
    kept, fresh = Notes(), Notes()
    assert addresses._mailboxes(value, "to", kept) == addresses._read_mailboxes(value, "to", fresh)
    assert kept.reasons == fresh.reasons
    assert addresses._mailboxes(value, "to", Notes()) == addresses._mailboxes(value, "to", kept)
