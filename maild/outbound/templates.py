"""Reply templates: Markdown text with a TOML front matter and ``{name}`` placeholders.

Pure: the text comes in, a template or a filled message goes out. A template is
read whole before it is used, and filling it either succeeds completely or names
every variable it lacks, so a reply never leaves half-filled ("Dear {customer_name}").
Placeholders are names only: no attribute or index access (``{x.__class__}``), which
``str.format`` would allow; ``{{`` and ``}}`` write a literal brace. A file looks like::

    +++
    description = "Order shipped, with its tracking number"
    subject = "Your order {order_id} has shipped"
    +++
    Hello {customer_name}, ...

``subject`` is used for a proactive message (``maild send``); a reply takes
the conversation's subject. ``ticket = "return"`` says that a reply from the
template returns a marketplace ticket for clarification: the message is marked so,
and its conversation leaves the seller's clock until the platform writes again.
"""

from __future__ import annotations

__all__ = [
    "STANDARD_VARIABLES",
    "FilledTemplate",
    "MissingVariables",
    "Template",
    "TemplateProblem",
    "fill",
    "parse_template",
]

import re
import tomllib
from dataclasses import dataclass
from typing import Final

from maild.config.locate import Loc, key_lines
from maild.errors import MaildError

STANDARD_VARIABLES: Final = ("order_id", "customer_name", "shop_name", "sub_order_id")
_FENCE: Final = "+++"
_KEYS: Final = ("description", "subject", "ticket")
_TICKET_ACTIONS: Final = ("return",)
_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}|\{[^{}\n]*\}|[{}]")
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
_TOML_LINE = re.compile(r"\(at line (\d+), column \d+\)")


@dataclass(frozen=True, slots=True)
class TemplateProblem:
    """One mistake in a template file, with the line it is on (1-based)."""

    line: int
    message: str


class MissingVariables(MaildError):
    """Filling a template needs values that were not given."""

    def __init__(self, template: str, names: tuple[str, ...]) -> None:
        self.names = names
        given = ", ".join(f"--var {n}=..." for n in names)
        super().__init__(
            f"template {template!r} needs {', '.join(names)}, which this conversation does not"
            f" supply; give {given}"
        )


@dataclass(frozen=True, slots=True)
class Template:
    name: str
    description: str
    subject: str | None
    body: str
    variables: tuple[str, ...]
    ticket: str | None = None


@dataclass(frozen=True, slots=True)
class FilledTemplate:
    subject: str | None
    body: str
    ticket: str | None = None


def _placeholders(text: str, first_line: int) -> tuple[list[str], list[TemplateProblem]]:
    names: list[str] = []
    problems: list[TemplateProblem] = []
    for match in _TOKEN.finditer(text):
        token = match.group()
        if match.group(1) is not None:
            names.append(match.group(1))
        elif token not in ("{{", "}}"):
            line = first_line + text.count("\n", 0, match.start())
            what = f"unmatched {token!r}" if len(token) == 1 else f"{token[:40]!r} is not a name"
            problems.append(
                TemplateProblem(
                    line,
                    f"{what}: a placeholder is {{name}} (letters, digits, _); write {{{{ or }}}}"
                    " for a literal brace",
                )
            )
    return names, problems


def _front_matter(
    text: str,
) -> tuple[dict[str, object], str, int, dict[Loc, int]] | TemplateProblem:
    """The front matter's keys, the body, the body's first line and each key's line."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != _FENCE:
        return TemplateProblem(1, f"a template starts with a {_FENCE} line, then TOML keys")
    closing = [i for i, text_line in enumerate(lines[1:], 1) if text_line.strip() == _FENCE]
    if not closing:
        return TemplateProblem(1, f"the front matter has no closing {_FENCE} line")
    index = closing[0]
    front = "\n".join(lines[1:index])
    try:
        data = tomllib.loads(front)
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_LINE.search(str(exc))
        at = int(found.group(1)) + 1 if found else index + 1  # "at end of document"
        return TemplateProblem(at, f"front matter: {_TOML_LINE.sub('', str(exc)).strip()}")
    # key_lines counts from the front matter's first line, the file's second.
    located = {loc: line + 1 for loc, line in key_lines(front).items()}
    return data, "\n".join(lines[index + 1 :]), index + 2, located


def parse_template(name: str, text: str) -> Template | list[TemplateProblem]:
    """The template in ``text``, or every problem found in it."""
    if not _NAME.fullmatch(name):
        return [TemplateProblem(1, f"template name {name!r}: use lower-case letters and digits")]
    parsed = _front_matter(text.replace("\r\n", "\n"))
    if isinstance(parsed, TemplateProblem):
        return [parsed]
    data, body, body_line, lines = parsed
    problems = [
        TemplateProblem(lines.get((key,), 2), f"unknown key {key!r} (known: {', '.join(_KEYS)})")
        for key in data
        if key not in _KEYS
    ]
    problems += [
        TemplateProblem(lines.get((key,), 2), f"{key} must be a string")
        for key in _KEYS
        if key in data and not isinstance(data[key], str)
    ]
    ticket = data.get("ticket")
    if isinstance(ticket, str) and ticket not in _TICKET_ACTIONS:
        problems.append(
            TemplateProblem(
                lines.get(("ticket",), 2),
                f"ticket {ticket!r} is not one of: {', '.join(_TICKET_ACTIONS)}",
            )
        )
    if not body.strip():
        problems.append(
            TemplateProblem(body_line, "the template has no text after its front matter")
        )
    subject = data.get("subject")
    names, found = _placeholders(body, body_line)
    problems += found
    if isinstance(subject, str):
        subject_names, found = _placeholders(subject, lines.get(("subject",), 2))
        names += subject_names
        problems += found
    if problems:
        return problems
    description = data.get("description", "")
    return Template(
        name=name,
        description=description if isinstance(description, str) else "",
        subject=subject if isinstance(subject, str) else None,
        body=body.strip("\n") + "\n",
        variables=tuple(dict.fromkeys(names)),
        ticket=ticket if isinstance(ticket, str) else None,
    )


def _substitute(text: str, values: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        token = match.group()
        return values[match.group(1)] if match.group(1) is not None else token[0]

    return _TOKEN.sub(one, text)


def fill(template: Template, values: dict[str, str]) -> FilledTemplate:
    """The template with every placeholder replaced; raises MissingVariables naming the gaps.

    An empty value counts as missing: "Hello ," is as half-filled as "Hello {name},".
    """
    missing = tuple(n for n in template.variables if not values.get(n, "").strip())
    if missing:
        raise MissingVariables(template.name, missing)
    subject = None if template.subject is None else _substitute(template.subject, values)
    return FilledTemplate(subject, _substitute(template.body, values), template.ticket)
