"""Properties of the classifier's fast forms against the plain forms they stand for:
the token pattern against a plain alternation, the tokenizer's Latin-only path against
its general loop, batch hashing against MurmurHash3 one token at a time, the quick
"no IP address here" test of a link against parsing it."""

from __future__ import annotations

import re

import mmh3
from hypothesis import given
from hypothesis import strategies as st

from maild.classify.features import (
    _TOKEN,
    _host,
    _is_ip,
    _may_link_to_ip,
    _tokenize,
    _tokenize_mixed,
    normalize,
)
from maild.classify.vectorize import hashed_columns

# Letters, capitals, ASCII and other digits, currency and bang, address characters,
# an accented letter the tokenizer splits on, and spaces: no Chinese.
LATIN = "abcxyzABCZ0123456789٣$€!?.@/:-_'é \n"
_PIECES = st.lists(
    st.one_of(
        st.text(alphabet=LATIN, max_size=12),
        st.sampled_from(
            ["http://a.b/c", "www.x.org", "me@x.org", "@you", "act now", "12345678901234"]
        ),
    ),
    max_size=30,
).map(" ".join)


_PLAIN_TOKEN = re.compile(r"[a-z]+|\d+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[$€£¥￥!?]")
# Chinese (in and out of the ranges), full-width digits and punctuation, the yen signs.
MIXED = LATIN + "订单号货们〇一\u3400\u4dbf\u9fff\uf900\ufaff\u4dc0\ufb00１２，。！？￥¥£"


@given(text=st.text(alphabet=MIXED, max_size=80))
def test_the_token_pattern_finds_what_a_plain_alternation_finds(text: str) -> None:
    assert _TOKEN.findall(text) == _PLAIN_TOKEN.findall(text)


@given(text=_PIECES)
def test_the_latin_path_counts_what_the_general_loop_counts(text: str) -> None:
    found = _TOKEN.findall(normalize(text))
    assert _tokenize(text) == _tokenize_mixed(found)


@given(
    tokens=st.lists(st.text(max_size=12), max_size=50),
    n_hash=st.sampled_from([2**19, 1000, 7]),
)
def test_batch_hashing_gives_each_token_its_murmur_column(tokens: list[str], n_hash: int) -> None:
    want = [abs(mmh3.hash(token, 0, True)) % n_hash for token in tokens]
    assert hashed_columns(tokens, n_hash).tolist() == want


# Schemes in any case, hosts with and without digits, ports, user parts, brackets, the
# characters urlsplit deletes or strips, digits that are not ASCII, and separators.
_URL_PIECES = st.lists(
    st.one_of(
        st.sampled_from(["http://", "HTTPS://", "https://", "www.", "//", "ftp://"]),
        st.text(alphabet="ab.19:@[]/?#\t\n \x00%٣²İ-", max_size=10),
        st.sampled_from(
            ["198.51.100.7", "[2001:db8::1]", "[::abcd]", "example.com", ":8080", "u@"]
        ),
    ),
    max_size=6,
).map("".join)


@given(url=_URL_PIECES)
def test_a_link_ruled_out_quickly_has_no_ip_host(url: str) -> None:
    if not _may_link_to_ip(url):
        host = _host(url)
        assert not (host and _is_ip(host))


def test_the_quick_test_keeps_links_to_addresses() -> None:
    assert _may_link_to_ip("http://198.51.100.7/login")
    assert _may_link_to_ip("HTTPS://[2001:db8::1]/x")
    assert _may_link_to_ip("http://[::abcd]/")  # an address without a digit
    assert not _may_link_to_ip("https://marketplace.example/messages/522-7149834")
