"""Find and read reply templates: the directory the config names, or the shipped one.

A template file is ``NAME.md`` in that directory. Every file is checked when the
config loads (``maild check-config`` lists each mistake with its file and line), so
an agent never meets a broken template in the middle of answering a customer.
"""

from __future__ import annotations

__all__ = ["SHIPPED_TEMPLATES", "load_template", "template_dir", "template_problems"]

from pathlib import Path
from typing import Final

from maild.config.locate import Loc
from maild.config.settings import Settings
from maild.errors import ConfigError, ConfigProblem
from maild.outbound.templates import Template, parse_template

_PACKAGED: Final = Path(__file__).resolve().parents[1] / "templates"
_SOURCE_TREE: Final = Path(__file__).resolve().parents[2] / "config" / "templates"
SHIPPED_TEMPLATES: Final = _PACKAGED if _PACKAGED.is_dir() else _SOURCE_TREE
_SUFFIX: Final = ".md"


def template_dir(settings: Settings, config_dir: Path | None = None) -> Path:
    """Where this installation's templates are; a relative path is the config file's."""
    configured = settings.outbox.templates_dir
    if configured is None:
        return SHIPPED_TEMPLATES
    base = config_dir or (settings.source.parent if settings.source else Path.cwd())
    return base / configured


def _read(path: Path) -> Template | list[ConfigProblem]:
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [ConfigProblem(shown, "", f"cannot read the template: {exc}")]
    parsed = parse_template(path.name.removesuffix(_SUFFIX), text)
    if isinstance(parsed, Template):
        return parsed
    return [ConfigProblem(shown, "", p.message, p.line) for p in parsed]


def load_template(directory: Path, name: str) -> Template:
    """The template ``name``; a ConfigError naming the file (and line) when it cannot be used."""
    path = directory / f"{name}{_SUFFIX}"
    if "/" in name or not path.is_file():
        known = ", ".join(sorted(p.stem for p in directory.glob(f"*{_SUFFIX}"))) or "none"
        problem = f"no template {name!r} (templates here: {known})"
        raise ConfigError([ConfigProblem(str(directory), "", problem)])
    found = _read(path)
    if isinstance(found, Template):
        return found
    raise ConfigError(found)


def template_problems(
    settings: Settings, config_dir: Path
) -> tuple[list[tuple[Loc, str]], list[ConfigProblem]]:
    """Problems of the configured directory (in the config) and of each template file in it."""
    if settings.outbox.templates_dir is None:
        return [], []
    directory = template_dir(settings, config_dir)
    if not directory.is_dir():
        return [(("outbox", "templates_dir"), f"{directory} is not a directory")], []
    problems: list[ConfigProblem] = []
    for path in sorted(directory.glob(f"*{_SUFFIX}")):
        found = _read(path)
        if not isinstance(found, Template):
            problems += found
    return [], problems
