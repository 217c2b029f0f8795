"""Pure featurization of a :class:`MessageText`: the same code in training and serving.

Two kinds of features, chosen so that what the model learns carries over to mailboxes
and corpora it has never seen (the hard part of this classifier):

* **text tokens** from subject + body: lowercased Latin words (unigrams and bigrams,
  punctuation and apostrophes ignored so that pre-tokenized corpora and real mail
  agree) and Chinese character unigrams and bigrams (no segmenter, nothing to
  download). URLs, e-mail addresses, @mentions and digit runs are replaced by shape
  tokens, so corpus-specific domains, list addresses and dates cannot become signals.
* **structure**: a short vector of facts about the message *relative to itself*:
  anchor text that shows another address than it links to, links to bare IP
  addresses, risky attachment types, the share of shouted words and of exclamation
  marks, and the density of money / urgency / credential vocabulary in English and
  Chinese. Nothing here says "this is a raw e-mail" (HTML or not, how many links,
  whether a sender is known, how long the text is): in the training corpora those
  facts identify the corpus, and a model that learns them labels every e-mail of an
  unseen source by the corpus it resembles. For that reason two signals were tried and
  left out: the share of links leaving the sender's domain and Reply-To pointing
  elsewhere. Both can only be non-zero for a full e-mail with headers, so with the
  SpamAssassin corpus held out they meant "phishing" (the only other headers are
  Nazario's) and flagged 32% of its ham; without them, 1.3% (bench/classify_notes.md).

Before either, :func:`clean_text` removes encoding artefacts that also identify a
corpus rather than a kind of mail: quoted-printable remnants, HTML entities, tags and
CSS left in text, and the spaced-out URLs and addresses of pre-tokenized corpora. Only
the first :data:`MAX_CHARS` characters are read.

No I/O, no clock, no globals that change.
"""

from __future__ import annotations

__all__ = [
    "CJK",
    "DENSITY_NAMES",
    "MAX_CHARS",
    "STRUCT_NAMES",
    "clean_text",
    "featurize_counts",
    "normalize",
    "registrable",
    "structure",
    "tokens",
    "tokens_of",
]

import html
import ipaddress
import math
import operator
import re
from collections import Counter
from itertools import pairwise
from urllib.parse import urlsplit

from maild.classify.message import Link, MessageText

#: Only this many characters of subject + body are read: keeps the per-message cost
#: bounded (full e-mails are classified nearly as fast as short messages) and keeps
#: long quoted threads, footers and disclaimers from drowning the opening lines.
MAX_CHARS = 2000
#: At most this many links of a message are inspected.
MAX_LINKS = 40

_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"'()\[\]{}]+", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_MENTION = re.compile(r"@\w+")
#: A token: a Latin word, a digit run, a run of Chinese characters, a currency sign, ! or ?.
#: The lookahead in front changes no match: a position that starts no token (a space,
#: punctuation) fails on one character class instead of four alternatives (findall
#: 45 -> 38 us a message on bench/ingest_stages.py mail, 6.1 -> 4.9 us on the corpora).
_TOKEN = re.compile(
    r"(?=[a-z\d\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff$€£¥￥!?])"
    r"(?:[a-z]+|\d+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[$€£¥￥!?])"
)
#: One Chinese character (CJK ideograph).
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
#: A word of three or more ASCII capitals (``\b[A-Z]{3,}\b``), written to start with a
#: character class: the regex engine then skips ahead to candidates instead of trying every
#: position (2.5 times faster); the lookbehind asks for no word character before it.
_CAPS_WORD = re.compile(r"[A-Z](?<!\w[A-Z])[A-Z]{2,}(?!\w)")
_AMOUNT = re.compile(r"[$€£¥￥]\s?\d|\d\s?(?:usd|dollars|元|万元|万)", re.IGNORECASE)
#: :data:`_AMOUNT` cannot match a text without one of these currency signs, or a lowercased
#: text without one of these units (``ſ``, the long s, matches ``s`` when ignoring case).
#: Most messages have neither, and are spared a regex that tries every position.
_CURRENCY_SIGNS = "$€£¥￥"
_AMOUNT_UNITS = ("usd", "uſd", "dollar", "元", "万")
_DOMAINISH = re.compile(r"^(?:https?://)?(?:www\.)?[\w-]+(?:\.[\w-]+)+(?:/\S*)?$", re.IGNORECASE)

# Artefacts of how a corpus was stored, not of what the mail says.
_QP_SOFT_BREAK = re.compile(r"=\r?\n")
_QP_ESCAPE = re.compile(r"=(?:[0-9A-F]{2})")
_TAG = re.compile(r"</?[A-Za-z][^<>]{0,300}>")
_CSS_RULE = re.compile(r"\{[^{}:]{0,400}:[^{}]{0,400}\}")
_SPACED_SCHEME = re.compile(r"\b(https?) : / / ", re.IGNORECASE)
_SPACED_HOST = re.compile(r"(?:(?<=://)|\bwww)[\w-]*(?: \. [\w-]+)+", re.IGNORECASE)
_SPACED_EMAIL = re.compile(r"\b[\w.-]+ @ [\w-]+(?: \. [\w-]+)+")

# Money / urgency / credential vocabulary, matched against the tokens: unigrams and
# bigrams, so "act now" (written act_now) and two-character Chinese words are single
# tokens; longer Chinese terms are matched by their telling bigram (银行卡 by 银行).
_MONEY = (
    "free cash prize winner won million loan mortgage investment profit income earn bonus"
    " lottery casino credit debt wealth rich guarantee"
    " 免费 中奖 奖金 现金 贷款 投资 收益 赚钱 返利 汇款 代开 利息 资金 彩票 博彩 佣金 兼职"
)
_URGENT = (
    "urgent urgently immediately expire expires expired suspend suspended suspension limited"
    " deadline final warning asap act_now"
    " 紧急 立即 立刻 马上 冻结 过期 限时 最后 逾期 否则"
)
_CREDENTIAL = (
    "verify verification password login confirm ssn pin billing bank account"
    " log_in sign_in social_security"
    " 密码 验证 账户 银行 身份 转账 公安 征信"
)
_VOCAB: dict[str, int] = {
    term.replace("_", " "): column
    for column, terms in enumerate((_MONEY, _URGENT, _CREDENTIAL))
    for term in terms.split()
}
_RISKY_ATTACHMENTS = frozenset(
    {"exe", "scr", "zip", "rar", "js", "vbs", "bat", "com", "pif", "htm", "html", "jar", "iso"}
)
_TWO_LEVEL_SUFFIXES = frozenset({"co", "com", "net", "org", "gov", "edu", "ac", "or", "ne", "go"})

STRUCT_NAMES: tuple[str, ...] = (
    "cjk_fraction",
    "caps_words",
    "exclamations",
    "anchor_mismatch",
    "ip_link",
    "risky_attachment",
    "money_terms",
    "urgent_terms",
    "credential_terms",
    "amounts",
)
#: The structure columns that are shares of the message's words: one word of a short
#: message moves them as far as many words of a long one.
DENSITY_NAMES: tuple[str, ...] = (
    "caps_words",
    "exclamations",
    "money_terms",
    "urgent_terms",
    "credential_terms",
    "amounts",
)


def _unspace(match: re.Match[str]) -> str:
    return match.group().replace(" . ", ".").replace(" @ ", "@")


def clean_text(msg: MessageText) -> str:
    """Subject + the start of the body, with storage artefacts removed (case kept)."""
    text = f"{msg.subject}\n{msg.body[: MAX_CHARS * 2]}"
    if "=" in text:
        text = _QP_ESCAPE.sub(" ", _QP_SOFT_BREAK.sub("", text))
    if "&" in text:
        text = html.unescape(text)
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "{" in text:
        text = _CSS_RULE.sub(" ", text)
    if " . " in text:
        text = _SPACED_SCHEME.sub(r"\1://", text)
        text = _SPACED_HOST.sub(_unspace, text)
        text = _SPACED_EMAIL.sub(_unspace, text)
    return text[:MAX_CHARS]


def normalize(text: str) -> str:
    """Lowercase and replace addresses with shape tokens (``text`` from :func:`clean_text`)."""
    return _normalize_lower(text.lower())


def _normalize_lower(low: str) -> str:
    # The address patterns are case-blind, so they can run on the lowercased text; each
    # runs only if the text has the character it cannot match without (most has none).
    if "://" in low or "www." in low:
        low = _URL.sub(" zurl ", low)
    if "@" in low:
        low = _MENTION.sub(" zmention ", _EMAIL.sub(" zemail ", low))
    return low


#: Digits stand for their length only: order IDs, prices and dates stay comparable.
_DIGIT_SHAPES = tuple(f"zd{n}" for n in range(13))
_SHAPE_SET = frozenset(_DIGIT_SHAPES)


def _tokenize(clean: str, low: str | None = None) -> tuple[Counter[str], int, int]:
    """Counted tokens of a :func:`clean_text` result, its Latin word count and CJK
    character count.

    ``low`` is ``clean.lower()`` when the caller already has it.
    """
    found = _TOKEN.findall(_normalize_lower(clean.lower() if low is None else low))
    if not clean.isascii() and CJK.search(clean):  # isascii is a flag, not a scan
        return _tokenize_mixed(found)
    # No Chinese: the same tokens as the loop of _tokenize_mixed, built by comprehensions.
    # A token of digits is all digits, so ``isdigit`` of the whole token suffices.
    toks = [_DIGIT_SHAPES[min(len(t), 12)] if t.isdigit() else t for t in found]
    counts = Counter(toks)
    # Words are counted over the distinct unigrams before bigrams join them, not over
    # every token (13 -> 6 us a message, bench/ingest_stages.py mail); a digit shape
    # is the only unigram of three characters or more that is not a word.
    words = sum([n for tok, n in counts.items() if len(tok) > 2 and tok not in _SHAPE_SET])
    counts.update(map(" ".join, pairwise(toks)))  # bigrams; 34 -> 29 us over an f-string
    return counts, words, 0


def _tokenize_mixed(found: list[str]) -> tuple[Counter[str], int, int]:
    """:func:`_tokenize` for text with Chinese in it: CJK runs give character unigrams and
    bigrams, and a Latin bigram never spans one."""
    out: list[str] = []
    prev = ""
    words = cjk = 0
    for tok in found:
        first = tok[0]
        if first.isdigit():
            tok = _DIGIT_SHAPES[min(len(tok), 12)]
        elif first >= "\u3400" and CJK.match(first):
            cjk += len(tok)
            out += tok
            out += map(operator.add, tok, tok[1:])  # its character bigrams
            prev = ""
            continue
        elif len(tok) > 2:
            words += 1
        out.append(tok)
        if prev:
            out.append(f"{prev} {tok}")
        prev = tok
    return Counter(out), words, cjk


def tokens_of(clean: str) -> list[str]:
    """Hashable text features of a :func:`clean_text` result (see the module docstring),
    each as often as it occurs."""
    return list(_tokenize(clean)[0].elements())


def tokens(msg: MessageText) -> list[str]:
    """Text features of subject + body."""
    return tokens_of(clean_text(msg))


def registrable(host: str) -> str:
    """Approximate registrable domain (``mail.shop.co.uk`` -> ``shop.co.uk``).

    Good enough to compare two domains of one message; no public-suffix list needed.
    """
    labels = host.lower().strip(".").split(".")
    if len(labels) >= 3 and labels[-2] in _TWO_LEVEL_SUFFIXES and len(labels[-1]) == 2:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _host(url: str) -> str:
    if not url.lower().startswith(("http://", "https://")):
        url = "http://" + url
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _may_link_to_ip(url: str) -> bool:
    """False when the host :func:`_host` finds in ``url`` cannot be an IP address, told
    without parsing the link (``urlsplit`` costs 3.5 us a link; bench/ingest_stages.py
    mail has two, neither to an address).

    :func:`_is_ip` wants a host that ends in a digit or has a colon. The host is made of
    characters, lowercased, from what follows ``http://``/``https://`` (all of ``url``
    when it has neither) up to the first slash: ``urlsplit`` only deletes characters
    and ends the host at the first of ``/?#``, and no character lowercases to a digit.
    """
    if url.lower().startswith(("http://", "https://")):
        url = url[url.index("//") + 2 :]
    head = url.partition("/")[0]
    return ":" in head or any(map(str.isdigit, head))


def _is_ip(host: str) -> bool:
    if not host[-1:].isdigit() and ":" not in host:
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _anchor_mismatch(link: Link) -> bool:
    """The visible text is itself an address, and not the one the link goes to."""
    shown = link.text.strip()
    if "." not in shown or not _DOMAINISH.match(shown):
        return False
    shown_host, target = _host(shown), _host(link.href)
    return bool(shown_host and target) and registrable(shown_host) != registrable(target)


def _squash(count: float, scale: float) -> float:
    """Map a count to [0, 1) smoothly so that no single feature dominates the text part."""
    return 1.0 - math.exp(-count / scale)


def _link_features(msg: MessageText, text: str, low: str) -> list[float]:
    """Yes/no facts only: how many links a message has says which corpus it comes from
    (HTML newsletters, plain-text lists, tweets) more than whether it is abuse.
    """
    links = msg.links[:MAX_LINKS]
    hrefs = [link.href for link in links if link.href.lower().startswith(("http", "www"))]
    if "://" in low or "www." in low:
        hrefs += _URL.findall(text)[:MAX_LINKS]
    return [
        float(any(_anchor_mismatch(link) for link in links)),
        float(any(_is_ip(h) for h in (_host(u) for u in hrefs if _may_link_to_ip(u)) if h)),
    ]


def _density(hits: int, units: float) -> float:
    """Hits per 100 words (a Chinese character counts as half a word), squashed.

    The +20 keeps a two-word message with one hit from looking as extreme as a
    letter full of them.
    """
    return _squash(100.0 * hits / (units + 20.0), 4.0)


def _amounts(clean: str, low: str) -> int:
    if any(sign in clean for sign in _CURRENCY_SIGNS) or any(u in low for u in _AMOUNT_UNITS):
        return len(_AMOUNT.findall(clean))
    return 0


def _structure(
    msg: MessageText, clean: str, low: str, counts: Counter[str], words: int, cjk: int
) -> list[float]:
    units = words + cjk / 2.0
    types = {t.lower() for t in msg.attachment_types}
    vocab = [0, 0, 0]
    for term in counts.keys() & _VOCAB.keys():  # walks the smaller of the two
        vocab[_VOCAB[term]] += counts[term]
    bangs = clean.count("!") + clean.count("\uff01")
    caps = len(_CAPS_WORD.findall(clean)) if clean != low else 0
    return [
        cjk / max(len(clean), 1),
        caps / max(words, 1),
        _density(bangs, units),
        *_link_features(msg, clean, low),
        float(bool(types & _RISKY_ATTACHMENTS)),
        *(_density(hits, units) for hits in vocab),
        _density(_amounts(clean, low), units),
    ]


def featurize_counts(msg: MessageText) -> tuple[Counter[str], list[float]]:
    """Text tokens with their counts and structure signals, sharing one pass over the text."""
    clean = clean_text(msg)
    low = clean.lower()
    counts, words, cjk = _tokenize(clean, low)
    return counts, _structure(msg, clean, low, counts, words, cjk)


def structure(msg: MessageText) -> list[float]:
    """Language-neutral structural signals, in the order of :data:`STRUCT_NAMES`."""
    return featurize_counts(msg)[1]
