"""Splitting a text into own and quoted lines, against the rule applied line by line."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from maild.threads import quotes
from maild.threads.quotes import Split, split_quoted

LINES = st.sampled_from(
    [
        "Where is my order?",
        "> earlier text",
        "   > indented quote",
        "On Mon, 1 Jan 2024, Bob <bob@example.com> wrote:",
        "On Mon, 1 Jan 2024, Bob",
        "<bob@example.com> wrote:",
        "-----Original Message-----",
        "From: Bob",
        "  From: Bob",
        "Sent: Monday",
        "\tDate: Monday",
        "  -----Original Message-----",
        "\u3000On Mon, 1 Jan 2024, Bob wrote:",
        "from the shop",
        "  ",
        "",
        "在 2024年1月1日 张三 写道：",
        "发件人: 张三",
        "发送时间: 2024",
        "on sale",
        "* list item",
        "Begin forwarded message:",
    ]
)
BREAKS = st.sampled_from(["\n", "\n", "\n", "\r\n", "\r", "\x0b", "\u2028", "\x1c", "\x85"])


def reference(text: str) -> Split:
    lines = text.splitlines()
    joined = "\n" + "\n".join(lines)
    own: list[str] = []
    quoted: list[str] = []
    start = 1
    for index, line in enumerate(lines):
        if quotes._starts_quote(joined, start, start + len(line)):
            quoted.extend(lines[index:])
            break
        (quoted if quotes._QUOTE_MARK.match(line) else own).append(line)
        start += len(line) + 1
    return Split("\n".join(own), "\n".join(quoted))


@settings(max_examples=500)
@given(lines=st.lists(st.tuples(LINES | st.text(max_size=12), BREAKS), max_size=12))
def test_the_split_is_that_of_the_rule_applied_to_every_line(
    lines: list[tuple[str, str]],
) -> None:
    text = "".join(line + end for line, end in lines)

    assert split_quoted.__wrapped__(text) == reference(text)


PLAIN_MAY_MATTER = re.compile(r"\n" + quotes._MAY_MATTER_LINE, re.IGNORECASE)
STARTS = ["on ", "ON\t", "begin", "From", "在", "于", "发件人", "寄件者", "發件人", *"-_=*"]


@settings(max_examples=500)
@given(
    st.lists(
        st.sampled_from(STARTS)
        | st.text(alphabet="\n \t\u3000\x0b>oObBfFnNſKİı-x", max_size=4)
        | st.text(max_size=3),
        max_size=12,
    ).map("".join)
)
def test_the_first_character_test_keeps_every_line_that_may_matter(text: str) -> None:
    joined = "\n" + text
    found = [m.span() for m in quotes._MAY_MATTER.finditer(joined)]
    assert found == [m.span() for m in PLAIN_MAY_MATTER.finditer(joined)]
