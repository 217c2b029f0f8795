"""A header's text has each run of controls and whitespace made one space, and no edges."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from maild.ingest.notes import Notes
from maild.ingest.words import for_address_parser, header_text

SPACES = "\t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u2028\u3000 "
CONTROLS = "\x00\x01\x08\x0e\x1b\x7f"
TEXT = st.text(alphabet=st.sampled_from([*SPACES, *CONTROLS, "a", "b", "é", "订", "\u200b"]))


def reference(text: str) -> str:
    """The rule as two substitutions, as header_text once applied it."""
    return re.sub(r"\s+", " ", re.sub(r"[\x00-\x1f\x7f]+", " ", text)).strip()


@settings(max_examples=500)
@given(text=TEXT)
def test_a_header_reads_as_its_text_with_controls_and_spaces_collapsed(text: str) -> None:
    assert header_text(text.encode("utf-8"), "subject", Notes()) == reference(text)


@settings(max_examples=300)
@given(text=st.text(alphabet=st.characters(max_codepoint=0x7F, exclude_characters="\r\n=")))
def test_an_ascii_address_header_has_each_run_of_controls_made_a_space(text: str) -> None:
    expected = re.sub(r"[\x00-\x1f\x7f]+", " ", text)
    assert for_address_parser(text.encode("ascii"), "to", Notes()) == expected
