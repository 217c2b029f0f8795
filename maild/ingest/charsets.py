"""Bytes to text the way real-world marketplace mail needs it, never failing.

Declared charsets are mapped to the codec that mail clients actually use for them:
GB2312/GBK/CP936 to GB18030 (their superset: Chinese mailers label GBK text "gb2312"
all the time), ISO-8859-1 to CP1252 (as browsers do, so "smart quotes" survive),
Big5 to CP950, Shift_JIS to CP932. Labels outside a fixed table are "unknown"
instead of being passed to :func:`codecs.lookup`, for two reasons: the stdlib's
``encodings`` search caches every miss in a module dict, so attacker-chosen labels
would grow memory for the life of the daemon, and codecs such as ``utf-7`` or
``unicode_escape`` turn bytes into lone surrogates that no database accepts.

When the declared codec does not fit, the fallback order is UTF-8, GB18030, CP1252,
and the text is marked degraded, so a reader knows it was guessed.
"""

__all__ = ["declared", "decode"]

import functools

from maild.ingest.notes import Notes, safe_label

_GB = ("gb18030",)
_LATIN = ("cp1252", "latin-1")
_JIS = ("iso2022_jp_2", "iso2022_jp_ext")

_CODECS: dict[str, tuple[str, ...]] = {
    "utf-8": ("utf-8",),
    "utf8": ("utf-8",),
    "unicode-1-1-utf-8": ("utf-8",),
    "utf8mb4": ("utf-8",),  # a MySQL name that PHP shop software writes into mail
    "gb2312": _GB,
    "gbk": _GB,
    "gb18030": _GB,
    "cp936": _GB,
    "ms936": _GB,
    "windows-936": _GB,
    "euc-cn": _GB,
    "csgb2312": _GB,
    "gb-2312-80": _GB,
    "chinese": _GB,
    "hz-gb-2312": ("hz",),
    "big5": ("cp950", "big5hkscs"),
    "cn-big5": ("cp950", "big5hkscs"),
    "csbig5": ("cp950", "big5hkscs"),
    "cp950": ("cp950", "big5hkscs"),
    "big5-hkscs": ("big5hkscs",),
    "iso-2022-jp": _JIS,
    "csiso2022jp": _JIS,
    "iso-2022-jp-1": _JIS,
    "iso-2022-jp-2": _JIS,
    "shift-jis": ("cp932", "shift_jis_2004"),
    "sjis": ("cp932", "shift_jis_2004"),
    "ms-kanji": ("cp932", "shift_jis_2004"),
    "windows-31j": ("cp932", "shift_jis_2004"),
    "cp932": ("cp932", "shift_jis_2004"),
    "euc-jp": ("euc_jp", "euc_jis_2004"),
    "euc-kr": ("cp949",),
    "ks-c-5601-1987": ("cp949",),
    "cp949": ("cp949",),
    "iso-2022-kr": ("iso2022_kr",),
    "koi8-r": ("koi8_r",),
    "koi8-u": ("koi8_u",),
    "tis-620": ("cp874",),
    "windows-874": ("cp874",),
    "utf-16": ("utf-16",),
    "utf-16le": ("utf-16-le",),
    "utf-16be": ("utf-16-be",),
    "iso-8859-1": _LATIN,
    "iso8859-1": _LATIN,
    "latin1": _LATIN,
    "latin-1": _LATIN,
    "l1": _LATIN,
    "cp819": _LATIN,
    "windows-1252": _LATIN,
    "cp1252": _LATIN,
    "us-ascii": ("ascii",),
    "ascii": ("ascii",),
    "ansi-x3.4-1968": ("ascii",),
}
_CODECS.update({f"iso-8859-{n}": (f"iso8859_{n}",) for n in (2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14)})
_CODECS.update({f"iso-8859-{n}": (f"iso8859_{n}",) for n in (15, 16)})
_CODECS.update({f"windows-{n}": (f"cp{n}",) for n in range(1250, 1259) if n != 1252})

# Codecs for which ASCII bytes are not simply ASCII text (escape-based or wide).
_NOT_ASCII_SAFE = frozenset({*_JIS, "iso2022_kr", "hz", "utf-16", "utf-16-le", "utf-16-be"})
_FALLBACK = ("utf-8", "gb18030", "cp1252")
# A multibyte sequence cut by truncation is at most this many bytes long.
_MAX_SEQUENCE = 4


@functools.lru_cache(maxsize=64)
def declared(raw: str | None) -> str | None:
    """The declared label, lower-cased and safe to report, or None when absent.

    Cached: a message declares the same label or two for every part and encoded word,
    and most mail one of a handful; a hit costs a fifth of the checks.
    """
    if raw is None:
        return None
    raw = raw.split("*", 1)[0]  # RFC 2231 language suffix: "utf-8*en"
    return safe_label(raw) if raw.strip().strip("\"'") else None


def decode(data: bytes, label: str | None, where: str, notes: Notes, *, cut: bool = False) -> str:
    """Decode ``data`` declared as ``label`` (from :func:`declared`); record any doubt.

    ``cut`` says the bytes were truncated on purpose, so an incomplete character at
    the end is dropped instead of counting as a decoding error.
    """
    codecs: tuple[str, ...] = ()
    if label is not None:
        notes.saw_charset(label)
        codecs = _codecs(label)
        if not codecs:
            notes.degrade(f"{where}: unknown charset {label}")
    if not codecs or codecs == ("ascii",):
        # RFC 2045 says undeclared means US-ASCII; in practice 8-bit text without a
        # label is UTF-8 (RFC 6532) or legacy GBK, and mislabelled ASCII is the same.
        return _undeclared(data, where, notes, cut=cut)
    if data.isascii() and codecs[0] not in _NOT_ASCII_SAFE:
        return data.decode("ascii")
    if codecs[0] == "cp1252":
        # Text labelled Latin-1 that is valid UTF-8 with non-ASCII in it is UTF-8: genuine
        # Latin-1 text almost never forms valid multibyte sequences.
        text = _strict(data, ("utf-8",), cut=cut)
        if text is not None:
            notes.degrade(f"{where}: declared {label} but content is utf-8")
            return text
    text = _strict(data, codecs, cut=cut)
    return text if text is not None else _mislabelled(data, label, codecs, where, notes, cut=cut)


def _mislabelled(
    data: bytes, label: str | None, codecs: tuple[str, ...], where: str, notes: Notes, *, cut: bool
) -> str:
    """The declared codec failed: a few stray bytes, or a label that lies?"""
    loose = data.decode(codecs[0], "replace")
    # A stray byte or two (a damaged or cut message) is best read in the declared codec;
    # many errors mean the label lies about the whole text.
    if loose.count("\ufffd") <= max(2, len(loose) // 1000):
        notes.degrade(f"{where}: invalid {label} bytes replaced")
        return loose
    for codec in _FALLBACK:
        text = None if codec in codecs else _strict(data, (codec,), cut=cut)
        if text is not None:
            notes.degrade(f"{where}: declared {label} does not fit, read as {codec}")
            return text
    notes.degrade(f"{where}: undecodable bytes replaced")
    return data.decode("utf-8", "replace")


def _undeclared(data: bytes, where: str, notes: Notes, *, cut: bool) -> str:
    if data.isascii():
        if b"\x1b$" in data:  # ISO-2022-JP without a label, as old Japanese mailers send it
            sniffed = _strict(data, _JIS, cut=cut)
            if sniffed is not None:
                return sniffed
        return data.decode("ascii")
    text = _strict(data, _FALLBACK, cut=cut)
    if text is not None:
        return text
    notes.degrade(f"{where}: undecodable bytes replaced")
    return data.decode("utf-8", "replace")


def _codecs(label: str) -> tuple[str, ...]:
    key = label.replace("_", "-")
    found = _CODECS.get(key)
    if found is None and key.startswith("x-"):
        found = _CODECS.get(key[2:])
    return found or ()


def _strict(data: bytes, codecs: tuple[str, ...], *, cut: bool) -> str | None:
    for codec in codecs:
        for trim in range(_MAX_SEQUENCE if cut else 1):
            try:
                return data[: len(data) - trim].decode(codec)
            except UnicodeDecodeError:
                continue
    return None
