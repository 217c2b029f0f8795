"""Marketplace presets: order-ID patterns, keywords and customer hints, read from TOML.

A preset is data, not code, so that a marketplace changing its number format (or a
new marketplace) needs a TOML edit rather than a release. The files live in
``config/presets`` in the source tree and are packed into the wheel as
``maild/presets`` (see pyproject.toml); both places are looked up. A preset file is
validated like maild.toml, and its problems are reported the same way
(``FILE:LINE: dotted.path: message``, all at once) as a ConfigError.
"""

from __future__ import annotations

__all__ = [
    "CustomerHints",
    "NameSource",
    "OrderPattern",
    "Preset",
    "SubOrderParent",
    "load_preset",
    "load_preset_file",
    "mailbox_presets",
    "preset_directory",
    "preset_names",
]

import dataclasses
import re
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Final, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from maild.classify.tagrules import TagRules
from maild.config.load import read_toml_file
from maild.config.locate import Loc, key_lines, line_of
from maild.config.order_regex import (
    compile_bare_order_regex,
    compile_lowered_bare_order_regex,
    compile_order_regex,
)
from maild.config.problems import explain, format_path
from maild.config.settings import DomainName, MailboxSettings, OrderPatternSettings, PatternKind
from maild.errors import ConfigError, ConfigProblem
from maild.threads.keywords import KeywordIndex, Role

NameSource = Literal["display", "label", "greeting", "signoff"]
SubOrderParent = Literal["none", "only-order"]

_PACKAGED: Final = Path(__file__).resolve().parents[1] / "presets"
_SOURCE_TREE: Final = Path(__file__).resolve().parents[2] / "config" / "presets"
_PRESET_NAME: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")

# -- what a preset is, once loaded -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderPattern:
    """One compiled pattern, with where to look and how to write what it finds."""

    name: str
    regex: re.Pattern[str]
    bare: re.Pattern[str]
    # For a pattern that starts with a letter: its bare form for the ASCII-lower-cased text.
    lowered_bare: re.Pattern[str] | None
    kind: PatternKind
    where: frozenset[str]
    headers: tuple[str, ...]
    needs_keyword: bool
    strip: str
    upper: bool

    @classmethod
    def from_settings(cls, settings: OrderPatternSettings) -> OrderPattern:
        return cls(
            name=settings.name,
            regex=compile_order_regex(settings.regex),
            bare=compile_bare_order_regex(settings.regex),
            lowered_bare=compile_lowered_bare_order_regex(settings.regex),
            kind=settings.kind,
            where=frozenset(settings.where),
            headers=settings.headers,
            needs_keyword=settings.needs_keyword,
            strip=settings.strip,
            upper=settings.upper,
        )

    def looks_in(self, where: str) -> bool:
        """Whether to search ``where``: "subject", "body" or "header:<lower-case name>"."""
        place, _, header = where.partition(":")
        return header in self.headers if place == "header" else place in self.where

    def normalise(self, raw: str) -> str:
        """The canonical form of a matched ID, so that every spelling threads together."""
        value = raw.translate(str.maketrans("", "", self.strip)) if self.strip else raw
        return value.upper() if self.upper else value


@dataclass(frozen=True, slots=True)
class CustomerHints:
    """How to find a customer behind a marketplace's relay address.

    ``name_from`` is tried in order for relay addresses; for any other address the
    display name is the customer's name.
    """

    relay_domains: tuple[str, ...] = ()
    name_from: tuple[NameSource, ...] = ("display",)
    name_labels: tuple[str, ...] = ()
    display_suffixes: tuple[str, ...] = ()
    generic_names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Preset:
    """Everything the pure extraction code needs to know about one marketplace."""

    name: str
    description: str
    patterns: tuple[OrderPattern, ...]
    keywords: KeywordIndex
    keyword_window: int = 40
    sub_order_parent: SubOrderParent = "none"
    customer: CustomerHints = CustomerHints()
    tags: TagRules = dataclasses.field(default_factory=TagRules)

    def with_patterns(self, extra: Iterable[OrderPatternSettings]) -> Preset:
        """This preset plus a mailbox's own ``order_patterns``, tried after the preset's."""
        added = tuple(OrderPattern.from_settings(settings) for settings in extra)
        return dataclasses.replace(self, patterns=self.patterns + added)


# -- the file format ---------------------------------------------------------------------

Keyword = Annotated[str, StringConstraints(min_length=1, max_length=40)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class _KeywordsFile(_Strict):
    order: tuple[Keyword, ...] = ()
    sub_order: tuple[Keyword, ...] = ()
    other: tuple[Keyword, ...] = ()

    @model_validator(mode="after")
    def _one_role_each(self) -> _KeywordsFile:
        seen: dict[str, str] = {}
        for role in ("order", "sub_order", "other"):
            for word in getattr(self, role):
                key = " ".join(word.lower().split())
                if seen.setdefault(key, role) != role:
                    raise ValueError(f"keyword {word!r} is listed under {seen[key]} and {role}")
        return self


class _CustomerFile(_Strict):
    relay_domains: tuple[DomainName, ...] = ()
    name_from: tuple[NameSource, ...] = ("display",)
    name_labels: tuple[Keyword, ...] = ()
    display_suffixes: tuple[Keyword, ...] = ()
    generic_names: tuple[Keyword, ...] = ()


class _PresetFile(_Strict):
    description: Annotated[str, StringConstraints(min_length=1)]
    keyword_window: Annotated[int, Field(ge=8, le=200)] = 40
    sub_order_parent: SubOrderParent = "none"
    keywords: _KeywordsFile = _KeywordsFile()
    patterns: tuple[OrderPatternSettings, ...]
    customer: _CustomerFile = _CustomerFile()
    tags: TagRules = TagRules()

    @field_validator("patterns")
    @classmethod
    def _named_once(
        cls, patterns: tuple[OrderPatternSettings, ...]
    ) -> tuple[OrderPatternSettings, ...]:
        if not patterns:
            raise ValueError("a preset needs at least one [[patterns]] table")
        names = [pattern.name for pattern in patterns]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"pattern name {twice[0]!r} is used twice; names must be unique")
        return patterns


# -- loading -----------------------------------------------------------------------------


def preset_directory() -> Path:
    """Where the shipped presets are: inside the installed package, else the source tree."""
    return _PACKAGED if _PACKAGED.is_dir() else _SOURCE_TREE


def preset_names() -> tuple[str, ...]:
    """The names of the shipped presets, sorted."""
    return tuple(sorted(path.stem for path in preset_directory().glob("*.toml")))


def mailbox_presets(mailboxes: Mapping[str, MailboxSettings]) -> dict[str, Preset]:
    """Each mailbox's preset with its own ``order_patterns``, loaded once for a run."""
    return {
        name: load_preset(mailbox.preset, mailbox.order_patterns)
        for name, mailbox in mailboxes.items()
    }


def load_preset(name: str, extra: Iterable[OrderPatternSettings] = ()) -> Preset:
    """Load a shipped preset by name and add a mailbox's own patterns to it."""
    if not _PRESET_NAME.fullmatch(name):  # never let a name walk out of the directory
        problem = ConfigProblem(str(preset_directory()), "", f"{name!r} is not a preset name")
        raise ConfigError([problem])
    return load_preset_file(preset_directory() / f"{name}.toml").with_patterns(extra)


def load_preset_file(path: Path) -> Preset:
    """Read and validate one preset file; every problem is raised together as ConfigError."""
    shown = str(path)
    text, data = read_toml_file(path, shown)
    try:
        parsed = _PresetFile.model_validate(data)
    except ValidationError as exc:
        lines = key_lines(text)
        problems: list[ConfigProblem] = []
        for error in exc.errors(include_url=False):
            loc, message = explain(error)
            if error["type"] == "extra_forbidden":
                message = _unknown_key(loc)
            problems.append(ConfigProblem(shown, format_path(loc), message, line_of(lines, loc)))
        raise ConfigError(sorted(problems, key=lambda p: (p.line is None, p.line or 0))) from None
    keywords: dict[Role, tuple[str, ...]] = {
        "order": parsed.keywords.order,
        "sub_order": parsed.keywords.sub_order,
        "other": parsed.keywords.other,
    }
    customer = parsed.customer
    return Preset(
        name=path.stem,
        description=parsed.description,
        patterns=tuple(OrderPattern.from_settings(pattern) for pattern in parsed.patterns),
        keywords=KeywordIndex.build(keywords),
        keyword_window=parsed.keyword_window,
        sub_order_parent=parsed.sub_order_parent,
        customer=CustomerHints(
            relay_domains=customer.relay_domains,
            name_from=customer.name_from,
            name_labels=customer.name_labels,
            display_suffixes=customer.display_suffixes,
            generic_names=customer.generic_names,
        ),
        tags=parsed.tags,
    )


def _unknown_key(loc: Loc) -> str:
    """Name the keys allowed where an unknown one was written (preset files only)."""
    current: object = _PresetFile
    for part in loc[:-1]:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            current = None if field is None else field.annotation
        elif get_origin(current) is tuple:
            current = get_args(current)[0]
        if get_origin(current) is Annotated:
            current = get_args(current)[0]
        if get_origin(current) in {Union, types.UnionType}:
            current = next(arg for arg in get_args(current) if arg is not type(None))
    key = str(loc[-1])
    if isinstance(current, type) and issubclass(current, BaseModel):
        return f"unknown key {key!r} (allowed here: {', '.join(current.model_fields)})"
    return f"unknown key {key!r}"
